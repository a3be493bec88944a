import Detection
import Foundation
import Recurrent
import Testing

/// A small configuration so the tests train in milliseconds.
func smallConfig() -> DetectorConfig {
    var c = DetectorConfig()
    c.model.hiddenSize = 8
    c.model.training.epochs = 2
    c.model.training.sequenceLength = 16
    c.model.training.batchSize = 2
    c.learning.warmupPoints = 100
    c.learning.window = 200
    c.learning.retrainEvery = 100
    c.learning.reprimePoints = 32
    c.scoring.minHistorySpan = 0 // the tests' series span hours; `aNewSeriesIsSilentForItsFirstDay` pins the day
    return c
}

func wave(_ i: Int) -> Double { 10 + 3 * sin(Double(i) * 2 * .pi / 24) + Double((i * 7919) % 13) / 26 }

/// Feeds points, training synchronously whenever due (as replay does).
@discardableResult
func drive(_ d: SeriesDetector, _ range: Range<Int>, value: (Int) -> Double = wave) -> [PointOutcome] {
    var out: [PointOutcome] = []
    for i in range {
        if let o = try? d.process(timestamp: 1_700_000_000 + Double(i) * 60, value: value(i)) { out.append(o) }
        if d.isTrainingDue() { d.install(d.makeTrainingJob().run()) }
    }
    return out
}

struct DetectorTests {
    /// A new series learns first (no prediction, no episode), then is trained after `warmup_points`.
    @Test func learnsThenTrains() {
        let d = SeriesDetector(key: "t", config: smallConfig())
        let early = drive(d, 0..<99)
        #expect(d.state == .learning)
        #expect(early.allSatisfy { $0.prediction == nil && $0.event == nil })
        let later = drive(d, 99..<150)
        #expect(d.state == .trained)
        #expect(d.modelVersion == 1)
        #expect(later.last?.prediction != nil)
    }

    /// Passing the next point's detector (by address, for its prefetch) changes no outcome: the same points give the
    /// same predictions and scores with another series, the series itself or nothing as the next one.
    @Test func prefetchingTheNextDetectorChangesNothing() {
        let plain = SeriesDetector(key: "t", config: smallConfig())
        let fetching = SeriesDetector(key: "t", config: smallConfig())
        let other = SeriesDetector(key: "o", config: smallConfig())
        drive(other, 0..<150)
        #expect(other.state == .trained)
        var compared = 0
        for i in 0..<400 {
            let ts = 1_700_000_000 + Double(i) * 60
            let v = wave(i) + (i == 300 ? 25 : 0)
            let next = i % 3 == 0 ? nil : Unmanaged.passUnretained(i % 3 == 1 ? other : fetching)
            let a = try? plain.process(timestamp: ts, value: v)
            let b = try? fetching.process(timestamp: ts, value: v, prefetching: next)
            #expect(a?.prediction == b?.prediction)
            #expect(a?.score == b?.score)
            #expect((a?.event == nil) == (b?.event == nil))
            if a?.prediction != nil { compared += 1 }
            if plain.isTrainingDue() { plain.install(plain.makeTrainingJob().run()) }
            if fetching.isTrainingDue() { fetching.install(fetching.makeTrainingJob().run()) }
        }
        withExtendedLifetime(other) {}
        #expect(compared > 250)
        #expect(plain.modelVersion == fetching.modelVersion && plain.modelVersion >= 2)
    }

    /// Points not newer than the last one and non-finite values are refused, and change nothing.
    @Test func rejectsOutOfOrderAndNonFinite() throws {
        let d = SeriesDetector(key: "t", config: smallConfig())
        _ = try d.process(timestamp: 100, value: 1)
        #expect(throws: PointRejection.outOfOrder) { try d.process(timestamp: 100, value: 2) }
        #expect(throws: PointRejection.outOfOrder) { try d.process(timestamp: 50, value: 2) }
        #expect(throws: PointRejection.nonFinite) { try d.process(timestamp: 200, value: .nan) }
        #expect(throws: PointRejection.nonFinite) { try d.process(timestamp: 200, value: .infinity) }
        #expect(d.pointsSeen == 1)
    }

    /// Retraining happens every `retrain_every` points and bumps the version when accepted.
    @Test func retrainsOnCadence() {
        let d = SeriesDetector(key: "t", config: smallConfig())
        drive(d, 0..<400)
        #expect(d.retrainsAccepted + d.retrainsRejected == 4, "trainings at 100, 200, 300, 400")
        #expect(d.modelVersion == 1 + d.retrainsAccepted - 1)
    }

    /// A series that leaves the range its model's input covers (a new level 1,000 where the model was fitted on
    /// 10 ± 3: far beyond 20 scales) is retrained after `retrain_out_of_range` such points, once a training
    /// sequence of new points has come, not only at `retrain_every`; with the key at 0 it waits for the cadence.
    @Test func retrainsEarlyOutOfRange() {
        func shifted(_ i: Int) -> Double { i < 150 ? wave(i) : 1_000 + wave(i) }
        let d = SeriesDetector(key: "t", config: smallConfig())
        drive(d, 0..<150, value: shifted)
        #expect(d.retrainsAccepted + d.retrainsRejected == 1)
        drive(d, 150..<165, value: shifted)
        #expect(d.retrainsAccepted + d.retrainsRejected == 1, "15 points out of range: not yet")
        drive(d, 165..<166, value: shifted)
        #expect(d.retrainsAccepted + d.retrainsRejected == 2, "the 16th point out of range retrains")
        drive(d, 166..<199, value: shifted)
        // While the window's median is still the old level, the new one stays out of range: it retrains again
        // after each training sequence (181, 197), never more often.
        #expect(d.retrainsAccepted + d.retrainsRejected == 4)

        var off = smallConfig()
        off.learning.retrainOutOfRange = 0
        let e = SeriesDetector(key: "t", config: off)
        drive(e, 0..<199, value: shifted)
        #expect(e.retrainsAccepted + e.retrainsRejected == 1)

        // Not before a training sequence (16 points) has come since the last training, however far out.
        var soon = smallConfig()
        soon.learning.retrainOutOfRange = 1
        let f = SeriesDetector(key: "t", config: soon)
        drive(f, 0..<110, value: { i in i < 105 ? wave(i) : 1_000 + wave(i) })
        #expect(f.retrainsAccepted + f.retrainsRejected == 1)
        drive(f, 110..<117, value: { _ in 1_000 })
        #expect(f.retrainsAccepted + f.retrainsRejected == 2, "at the 16th point after the training at 100")
    }

    /// The count of points out of range is not stored: a restored detector counts it again from its window, so it
    /// retrains at the same point as the original.
    @Test func checkpointKeepsTheOutOfRangeCount() throws {
        func shifted(_ i: Int) -> Double { i < 150 ? wave(i) : 1_000 + wave(i) }
        let original = SeriesDetector(key: "series.a", config: smallConfig())
        drive(original, 0..<160, value: shifted)
        let restored = try SeriesDetector(key: "series.a", config: smallConfig(), checkpoint: original.checkpoint())
        let a = drive(original, 160..<240, value: shifted)
        let b = drive(restored, 160..<240, value: shifted)
        #expect(a == b)
        #expect(original.retrainsAccepted + original.retrainsRejected >= 2)
        #expect(restored.modelVersion == original.modelVersion)
    }

    /// Same key, config and data give identical predictions (replay determinism).
    @Test func deterministic() {
        let a = SeriesDetector(key: "t", config: smallConfig())
        let b = SeriesDetector(key: "t", config: smallConfig())
        let pa = drive(a, 0..<260).map(\.prediction)
        let pb = drive(b, 0..<260).map(\.prediction)
        #expect(pa == pb)
    }

    /// A checkpoint restores a detector that continues exactly as the original would have.
    @Test func checkpointRoundTripContinuesIdentically() throws {
        let original = SeriesDetector(key: "series.a", config: smallConfig())
        drive(original, 0..<250)
        let blob = original.checkpoint()
        let restored = try SeriesDetector(key: "series.a", config: smallConfig(), checkpoint: blob)
        #expect(restored.state == .trained)
        #expect(restored.modelVersion == original.modelVersion)
        #expect(restored.pointsSeen == original.pointsSeen)
        let a = drive(original, 250..<320)
        let b = drive(restored, 250..<320)
        #expect(a == b)
    }

    /// A checkpoint of another format version, another series or a truncated blob is refused with a reason.
    @Test func badCheckpointsAreRejected() {
        let d = SeriesDetector(key: "series.a", config: smallConfig())
        drive(d, 0..<150)
        var blob = d.checkpoint()
        #expect(throws: CheckpointError.self) { try SeriesDetector(key: "series.b", config: smallConfig(), checkpoint: blob) }
        #expect(throws: CheckpointError.self) {
            try SeriesDetector(key: "series.a", config: smallConfig(), checkpoint: Array(blob.prefix(blob.count / 2)))
        }
        blob[0] = 0xFF
        do {
            _ = try SeriesDetector(key: "series.a", config: smallConfig(), checkpoint: blob)
            Issue.record("a wrong version was accepted")
        } catch {
            #expect(error.description.contains("version"))
        }
        var other = smallConfig()
        other.model.hiddenSize = 16
        #expect(throws: CheckpointError.self) { try SeriesDetector(key: "series.a", config: other, checkpoint: d.checkpoint()) }
    }

    /// A constant series never opens an episode (no division by a zero spread), and its predictions stay finite.
    @Test func constantSeriesStaysQuiet() {
        var c = smallConfig()
        c.episodes.threshold = 0.5
        let d = SeriesDetector(key: "flat", config: c)
        let out = drive(d, 0..<400) { _ in 42 }
        #expect(out.allSatisfy { $0.event == nil })
        #expect(out.compactMap(\.prediction).allSatisfy { $0.isFinite })
        #expect(out.allSatisfy { $0.score.isFinite && $0.score >= 0 && $0.score <= 1 })
    }

    /// Points inside an open episode are left out of the next training (loss weight 0).
    @Test func episodePointsAreExcludedFromTraining() {
        var c = smallConfig()
        c.episodes.threshold = 0.0 // every point is "high": the whole window is one episode once trained
        let d = SeriesDetector(key: "t", config: c)
        drive(d, 0..<150)
        #expect(d.episodes.isOpen)
        let job = d.makeTrainingJob()
        #expect(job.excluded.suffix(40).allSatisfy { $0 == 1 })
        d.cancelTraining()
    }
}

struct NormaliserTests {
    /// The robust fit ignores a few huge outliers: center is the median, scale the IQR-based spread.
    @Test func robustToOutliers() {
        var values = (0..<1000).map { Double($0 % 100) }
        values[5] = 1e9
        values[6] = -1e9
        let n = Normaliser.fit(values)
        #expect(abs(n.center - 49.5) < 1)
        #expect(n.scale > 30 && n.scale < 45)
    }

    /// A constant window gets a positive scale, and inputs are clipped so outliers cannot blow up the state.
    @Test func constantWindowHasPositiveScaleAndClipping() {
        let n = Normaliser.fit(Array(repeating: 0, count: 100))
        #expect(n.scale > 0)
        #expect(n.normalise(1e12) == Normaliser.inputClip)
        let m = Normaliser.fit(Array(repeating: 500, count: 100))
        #expect(m.scale > 0)
        #expect(abs(m.denormalise(m.normalise(500)) - 500) < 1e-9)
    }
}

struct FeaturesTests {
    /// Calendar features switch on for minute-spaced data and off for daily or irregular-but-sparse data.
    @Test func calendarAutoDecision() {
        let minutes = (0..<100).map { Double($0) * 60 }
        let days = (0..<100).map { Double($0) * 86_400 }
        #expect(Features.calendarApplies(.auto, timestamps: minutes))
        #expect(!Features.calendarApplies(.auto, timestamps: days))
        #expect(!Features.calendarApplies(.off, timestamps: minutes))
        #expect(Features.calendarApplies(.on, timestamps: days))
    }

    /// The ring keeps the newest `capacity` elements in order.
    @Test func ringKeepsNewest() {
        var r = Ring<Int>(capacity: 3)
        for i in 0..<7 { r.append(i) }
        #expect(r.toArray() == [4, 5, 6])
        #expect(r.suffix(2) == [5, 6])
        #expect(r.last == 6)
    }
}

@testable import Detection
import Foundation
import Recurrent
import Testing

struct CompactStorageTests {
    /// The compact window returns what a plain ring of (timestamp, value, flag) would, with values rounded to
    /// Float32 and timestamps to the millisecond, before and after it wraps.
    @Test func compactWindowMatchesAPlainRing() {
        var w = CompactWindow(capacity: 50)
        var reference: [(Double, Double, Bool)] = []
        var t = 1_700_000_000.125
        for i in 0..<137 {
            t += [60, 0.001, 59.5, 3600, 1][i % 5]
            let v = 100 * sin(Double(i)) + 1e-3 * Double(i)
            w.append(timestamp: t, value: v, excluded: i % 7 == 0)
            reference.append((t, v, i % 7 == 0))
            if reference.count > 50 { reference.removeFirst() }
            let (ts, vs, ex) = w.arrays()
            #expect(ts.count == reference.count)
            for (j, r) in reference.enumerated() {
                #expect(abs(ts[j] - r.0) < 0.0005, "timestamp \(j) after \(i) points")
                #expect(vs[j] == Double(Float(r.1)))
                #expect((ex[j] != 0) == r.2)
            }
        }
        #expect(w.residentBytes <= 50 * 8 + 64, "\(w.residentBytes) bytes for 50 points")
    }

    /// A gap longer than 24.8 days is stored in whole seconds: that point's time is rounded to the second, the
    /// points after it are exact again.
    @Test func compactWindowKeepsLongGaps() {
        var w = CompactWindow(capacity: 8)
        w.append(timestamp: 1_000.5, value: 1, excluded: false)
        w.append(timestamp: 1_000.5 + 90 * 86_400.25, value: 2, excluded: false)
        w.append(timestamp: 1_000.5 + 90 * 86_400.25 + 10, value: 3, excluded: true)
        let ts = w.arrays().timestamps
        #expect(ts[0] == 1_000.5)
        #expect(abs(ts[1] - (1_000.5 + 90 * 86_400.25)) <= 1)
        #expect(abs(ts[2] - (1_000.5 + 90 * 86_400.25 + 10)) < 0.0005, "the point after the gap is exact again")
    }

    /// Encoding and decoding a window gives the same window; a smaller capacity keeps the newest points.
    @Test func compactWindowCheckpointRoundTrip() throws {
        var w = CompactWindow(capacity: 300)
        for i in 0..<450 {
            w.append(timestamp: 1_700_000_000 + Double(i) * (i < 200 ? 60 : 30), value: Double(i % 17), excluded: i % 11 == 0)
        }
        var writer = ByteWriter()
        w.encode(into: &writer)
        // Regular steps cost a few bytes: values (4 per point) dominate.
        #expect(writer.bytes.count < 300 * 4 + 300 / 8 + 64, "\(writer.bytes.count) bytes")
        var reader = ByteReader(writer.bytes)
        let back = try CompactWindow.decode(from: &reader, capacity: 300)
        #expect(reader.isAtEnd)
        #expect(back.arrays().timestamps == w.arrays().timestamps)
        #expect(back.arrays().values == w.arrays().values)
        #expect(back.arrays().excluded == w.arrays().excluded)
        var reader2 = ByteReader(writer.bytes)
        let smaller = try CompactWindow.decode(from: &reader2, capacity: 100)
        #expect(smaller.count == 100)
        #expect(smaller.arrays().values == Array(w.arrays().values.suffix(100)))
        #expect(smaller.arrays().timestamps == Array(w.arrays().timestamps.suffix(100)))
    }

    /// A corrupt window whose run length is a huge varint (found by `make fuzz FUZZ_TARGET=checkpoint`) is refused
    /// with an error, not a trap in Int(_:).
    @Test(arguments: [UInt64.max, UInt64(Int.max) + 5])
    func compactWindowRefusesAHugeRunLength(length: UInt64) {
        var runs = ByteWriter()
        runs.varint(1)
        runs.varint(length)
        var w = ByteWriter()
        w.int(10)
        w.u64(0)
        w.int(1)
        w.blob(runs.bytes)
        var r = ByteReader(w.bytes)
        #expect(throws: CheckpointError.self) { _ = try CompactWindow.decode(from: &r, capacity: 100) }
    }

    /// A learning series holds only its points and counters: no scorer, a window sized to what it has seen.
    @Test func learningSeriesIsSmall() {
        let d = SeriesDetector(key: "t", config: DetectorConfig())
        for i in 0..<299 { _ = try? d.process(timestamp: 1_700_000_000 + Double(i) * 60, value: Double(i % 10)) }
        #expect(d.state == .learning)
        #expect(d.scorerCheckpoint().isEmpty)
        #expect(d.window.residentBytes <= 420 * 8 + 64, "\(d.window.residentBytes) bytes of window")
        #expect(d.checkpoint().count < 4_096, "learning checkpoint \(d.checkpoint().count) bytes")
    }

    /// The scorer a series builds from its window at its first model is the one a scorer fed every point while
    /// learning would have: the scores after training are the same.
    @Test func scorerBuiltAtFirstModelMatchesAnEagerOne() {
        var eagerConfig = smallConfig()
        eagerConfig.learning.scoreWhileLearning = true // keeps the scorer from the first point
        let lazy = SeriesDetector(key: "t", config: smallConfig())
        let eager = SeriesDetector(key: "t", config: eagerConfig)
        let a = drive(lazy, 0..<400).suffix(250).map(\.score)
        let b = drive(eager, 0..<400).suffix(250).map(\.score)
        #expect(a.count == b.count)
        var worst = 0.0
        for (x, y) in zip(a, b) { worst = max(worst, abs(x - y)) }
        #expect(worst < 1e-3, "scores differ by up to \(worst)")
    }

    /// A checkpoint (version 6) restores a detector that scores and predicts the next points as the original does.
    @Test func checkpointRoundTripContinuesIdentically() throws {
        let d = SeriesDetector(key: "t", config: smallConfig())
        drive(d, 0..<350)
        let blob = d.checkpoint()
        #expect(blob.first == SeriesDetector.checkpointVersion)
        let r = try SeriesDetector(key: "t", config: smallConfig(), checkpoint: blob)
        #expect(r.pointsSeen == d.pointsSeen && r.modelVersion == d.modelVersion && r.state == .trained)
        let a = drive(d, 350..<380), b = drive(r, 350..<380)
        for (x, y) in zip(a, b) {
            #expect(abs((x.prediction ?? 0) - (y.prediction ?? 0)) <= 1e-3 * max(1, abs(x.prediction ?? 0)))
            #expect(abs(x.score - y.score) < 1e-6)
        }
    }

    /// A version-1 checkpoint (Float64 window, Float32 weights) still restores, with its window, weights (to
    /// half precision) and counters.
    @Test func versionOneCheckpointStillRestores() throws {
        let d = SeriesDetector(key: "v1", config: smallConfig())
        drive(d, 0..<250)
        let blob = versionOneCheckpoint(of: d)
        let r = try SeriesDetector(key: "v1", config: smallConfig(), checkpoint: blob)
        #expect(r.pointsSeen == 250)
        #expect(r.modelVersion == d.modelVersion)
        #expect(r.state == .trained)
        #expect(r.window.arrays().values == d.window.arrays().values)
        let original = try #require(d.model), restored = try #require(r.model)
        for (x, y) in zip(original.parameters, restored.parameters) { #expect(abs(x - y) <= abs(x) * 0x1p-10 + 1e-7) }
        let a = drive(d, 250..<270), b = drive(r, 250..<270)
        #expect(zip(a, b).allSatisfy { abs($0.score - $1.score) < 1e-6 })
    }

    /// A test configuration whose model has an int8 stepping copy (hidden size a multiple of 16).
    func int8Config() -> DetectorConfig {
        var c = smallConfig()
        c.model.hiddenSize = 16
        return c
    }

    /// A version-6 checkpoint holds the weights once: the int8 stepping copy and its residual, no master weights.
    /// The restored series steps with the same copy, warm-starts its next training from the same weights, and so
    /// continues exactly as the original, through a retraining.
    @Test func versionSixCheckpointHoldsTheSteppingWeightsOnce() throws {
        let d = SeriesDetector(key: "v6", config: int8Config())
        drive(d, 0..<250)
        let stepping = try #require(d.steppingWeights), residual = try #require(d.steppingResidual)
        #expect(stepping.precision == .int8)
        let blob = d.checkpoint()
        // Version 7 added the open episode's cause after the episode; the weights are laid out as in version 6.
        #expect(blob.first == SeriesDetector.checkpointVersion)
        // The version-5 layout of the same series held the half-precision masters (length, 16-byte header, two
        // bytes per weight) where version 6 holds the residual (length, one byte per gate weight).
        let masters = 8 + 16 + 2 * RecurrentModel.parameterCount(for: stepping.shape)
        #expect(versionFiveCheckpoint(of: d).count - blob.count == masters - (8 + residual.serialized().count))
        let r = try SeriesDetector(key: "v6", config: int8Config(), checkpoint: blob)
        #expect(r.steppingWeights == stepping)
        #expect(r.steppingResidual == residual)
        #expect(r.model == d.model)
        let a = drive(d, 250..<330), b = drive(r, 250..<330)
        #expect(d.modelVersion == r.modelVersion)
        #expect(d.retrainsAccepted + d.retrainsRejected >= 3, "retrainings at 100, 200 and 300 points")
        #expect(d.retrainsAccepted == r.retrainsAccepted && d.retrainsRejected == r.retrainsRejected)
        #expect(d.steppingWeights == r.steppingWeights, "the same warm start trained the same weights")
        #expect(a.map(\.prediction) == b.map(\.prediction))
        for (x, y) in zip(a, b) { #expect(abs(x.score - y.score) < 1e-6) }
    }

    /// A version-5 checkpoint (half-precision master weights, then the int8 stepping copy), as the build before
    /// version 6 wrote it, still restores: the stored stepping copy is kept (the series steps exactly as it did),
    /// the residual is taken against the masters, so the next training warm-starts from the masters' weights to
    /// within 1/254 of a quantisation step. A version-5 blob without a stepping copy derives one from the masters.
    @Test func versionFiveCheckpointStillRestores() throws {
        let d = SeriesDetector(key: "v5", config: int8Config())
        drive(d, 0..<250)
        let blob = versionFiveCheckpoint(of: d)
        #expect(blob.first == 5)
        let r = try SeriesDetector(key: "v5", config: int8Config(), checkpoint: blob)
        #expect(r.pointsSeen == 250 && r.modelVersion == d.modelVersion && r.state == .trained)
        #expect(r.window.arrays().values == d.window.arrays().values)
        #expect(r.steppingWeights == d.steppingWeights)
        let masters = HalfPrecisionModel(try #require(d.model)).expanded(), warm = try #require(r.model)
        let largest = masters.parameters.map(abs).max() ?? 1
        // Gate weights within 1/254 of a quantisation step of the masters; the head is the stepping copy's exact
        // Float32 one, so within the masters' half-precision rounding.
        for (x, y) in zip(masters.parameters, warm.parameters) {
            #expect(abs(x - y) <= max(largest / 127 / 508 * 1.01, abs(x) * 0x1p-11))
        }
        let a = drive(d, 250..<270), b = drive(r, 250..<270)
        #expect(a.map(\.prediction) == b.map(\.prediction))
        #expect(zip(a, b).allSatisfy { abs($0.score - $1.score) < 1e-6 })
        // Its own checkpoint is version 6 and reads back.
        let again = try SeriesDetector(key: "v5", config: int8Config(), checkpoint: r.checkpoint())
        #expect(again.steppingWeights == r.steppingWeights && again.steppingResidual == r.steppingResidual)

        let e = SeriesDetector(key: "v5", config: int8Config())
        drive(e, 0..<250)
        let withoutCopy = versionFiveCheckpoint(of: e, withSteppingCopy: false)
        let noCopy = try SeriesDetector(key: "v5", config: int8Config(), checkpoint: withoutCopy)
        let derived = try #require(noCopy.steppingWeights)
        #expect(derived.precision == .int8)
        #expect(derived == InferenceModel(HalfPrecisionModel(try #require(e.model)).expanded(), precision: .int8))
        #expect(noCopy.steppingResidual != nil)
    }

    /// The version-5 layout, written as the build before version 6 wrote it (masters: this detector's weights in
    /// half precision).
    func versionFiveCheckpoint(of d: SeriesDetector, withSteppingCopy: Bool = true) -> [UInt8] {
        var w = ByteWriter()
        w.u8(5)
        w.string(d.key)
        w.int(d.pointsSeen)
        w.double(d.firstTimestamp)
        w.double(d.lastTimestamp)
        d.window.encode(into: &w)
        w.int(d.modelVersion)
        w.blob(d.model.map { HalfPrecisionModel($0).serialized() } ?? [])
        w.blob(withSteppingCopy ? d.steppingWeights?.serialized() ?? [] : [])
        writeFieldsAfterWeights(of: d, into: &w)
        return w.bytes
    }

    /// The version-1 layout, written as the build before version 5 wrote it.
    func versionOneCheckpoint(of d: SeriesDetector) -> [UInt8] {
        var w = ByteWriter()
        w.u8(1)
        w.string(d.key)
        w.int(d.pointsSeen)
        w.double(d.firstTimestamp)
        w.double(d.lastTimestamp)
        let (ts, vs, ex) = d.window.arrays()
        w.doubles(vs)
        w.doubles(ts)
        w.blob(ex)
        w.int(d.modelVersion)
        w.blob(d.model?.serialized() ?? [])
        writeFieldsAfterWeights(of: d, into: &w)
        return w.bytes
    }

    /// What versions 1 and 5 write after the weights (normaliser, calendar, recurrent state, pending prediction,
    /// scorer, episodes, counters): the same fields in the same order.
    func writeFieldsAfterWeights(of d: SeriesDetector, into w: inout ByteWriter) {
        w.double(d.normaliser.center)
        w.double(d.normaliser.scale)
        w.bool(d.calendar)
        w.floats(d.currentState.h)
        w.floats(d.currentState.c)
        if let p = d.pendingPrediction {
            w.u8(1)
            w.float(p.mean)
            w.float(p.logVariance)
        } else {
            w.u8(0)
        }
        w.blob(d.scorerCheckpoint())
        d.episodes.write(to: &w)
        w.int(d.retrainsAccepted)
        w.int(d.retrainsRejected)
        w.double(d.lastRetrainAt ?? .nan)
        w.double(d.lastScore)
        w.int(d.trainingCadencePoints)
    }
}

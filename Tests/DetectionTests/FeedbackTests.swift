import Detection
import Foundation
import Testing

/// The series of the feedback tests: a daily-ish wave with spikes of a chosen size at chosen points.
private func spiky(_ spikes: [Int: Double]) -> (Int) -> Double {
    { i in wave(i) + (spikes[i] ?? 0) }
}

/// Episodes opened by `d` over `range`, as the indices of their opening points.
private func opens(_ d: SeriesDetector, _ range: Range<Int>, value: (Int) -> Double) -> [Int] {
    var opened: [Int] = []
    for i in range {
        if let o = try? d.process(timestamp: 1_700_000_000 + Double(i) * 60, value: value(i)), o.event?.kind == .open {
            opened.append(i)
        }
        if d.isTrainingDue() { d.install(d.makeTrainingJob().run()) }
    }
    return opened
}

struct FeedbackTests {
    /// A spike labelled not-anomaly stops a repeat of a similar spike from alerting, while a spike three times as
    /// large still alerts; the same series without the label alerts on the repeat too.
    @Test func labelledPatternStopsAlertingLargerStillAlerts() throws {
        // The scorer's own history is kept short (256 points), so that by the repeat 400 points later it has
        // forgotten the first spike and would call the repeat news again: the label is what remembers it. With the
        // default history a single repeat is no longer news to the scorer either (daily rate, predictive tail).
        let values = spiky([600: 12, 1000: 14, 1400: 40])
        var config = smallConfig()
        config.scoring.history = 256
        let control = SeriesDetector(key: "fb", config: config)
        let labelled = SeriesDetector(key: "fb", config: config)
        var first: EpisodeEvent?
        for i in 0..<700 {
            let t = 1_700_000_000 + Double(i) * 60
            _ = try? control.process(timestamp: t, value: values(i))
            if control.isTrainingDue() { control.install(control.makeTrainingJob().run()) }
            let o = try labelled.process(timestamp: t, value: values(i))
            if let e = o.event, e.kind != .close, e.openedAt == 1_700_000_000 + 600 * 60 { first = e }
            if labelled.isTrainingDue() { labelled.install(labelled.makeTrainingJob().run()) }
        }
        let episode = try #require(first, "the first spike opens an episode")
        labelled.learnNotAnomaly(anomalyID: 1, value: episode.value, predicted: episode.predicted, peakAt: episode.peakAt)

        let controlOpens = opens(control, 700..<1500, value: values)
        let labelledOpens = opens(labelled, 700..<1500, value: values)
        #expect(controlOpens.contains { (1000..<1010).contains($0) }, "without the label the repeat alerts: \(controlOpens)")
        #expect(!labelledOpens.contains { (1000..<1010).contains($0) }, "the labelled pattern does not")
        #expect(labelledOpens.contains { (1400..<1410).contains($0) }, "a larger deviation still alerts")
    }

    /// The discount applies only to residuals of the same sign within the tolerance, fades with age, and goes
    /// with the label.
    @Test func adjustIsBoundedDecaysAndForgets() {
        var config = FeedbackConfig()
        config.halfLife = 1000
        var f = SeriesFeedback()
        f.learn(anomalyID: 7, residual: 8, peakAt: 0)
        #expect(f.adjust(score: 0.6, residual: 8, at: 0, config: config) == 0)
        #expect(f.adjust(score: 0.6, residual: 9.9, at: 0, config: config) == 0, "within 25 % more")
        #expect(f.adjust(score: 0.6, residual: 2, at: 0, config: config) == 0, "smaller deviations too")
        #expect(f.adjust(score: 0.6, residual: 10.5, at: 0, config: config) == 0.6, "beyond the tolerance: untouched")
        #expect(f.adjust(score: 0.6, residual: -8, at: 0, config: config) == 0.6, "the other way: untouched")
        #expect(f.adjust(score: 0.6, residual: nil, at: 0, config: config) == 0.6, "no prediction: untouched")
        // One half-life later the label weighs half.
        #expect(f.adjust(score: 0.6, residual: 8, at: 1000, config: config) == 0.3)
        #expect(f.adjust(score: 0.6, residual: 8, at: -50, config: config) == 0, "earlier points: full weight")
        f.learn(anomalyID: 8, residual: .nan, peakAt: 0)
        #expect(f.entries.count == 1, "a peak without a residual teaches nothing")
        f.forget(7)
        #expect(f.isEmpty)
        #expect(f.adjust(score: 0.6, residual: 8, at: 0, config: config) == 0.6)
    }

    /// A muted series opens no episode and its points are left out of training; unmuted, it alerts again.
    @Test func mutedSeriesOpensNothingAndIsNotLearnedFrom() throws {
        let values = spiky([600: 8, 1000: 24])
        let d = SeriesDetector(key: "m", config: smallConfig())
        _ = opens(d, 0..<550, value: values)
        #expect(d.setMuted(true) == nil, "nothing was open")
        let whileMuted = opens(d, 550..<700, value: values)
        #expect(whileMuted.isEmpty)
        let job = d.makeTrainingJob()
        d.cancelTraining()
        let mutedPoints = job.excluded.suffix(150)
        #expect(mutedPoints.allSatisfy { $0 == 1 }, "points while muted get loss weight 0")
        #expect(d.setMuted(false) == nil)
        let after = opens(d, 700..<1100, value: values)
        #expect(after.contains { (1000..<1010).contains($0) })
    }

    /// Muting a series with an open episode closes it with reason "muted".
    @Test func muteClosesAnOpenEpisode() throws {
        let d = SeriesDetector(key: "m", config: smallConfig())
        let values = spiky([600: 20, 601: 20, 602: 20])
        _ = opens(d, 0..<602, value: values)
        try #require(d.episodes.isOpen)
        let close = try #require(d.setMuted(true))
        #expect(close.kind == .close)
        #expect(close.closeReason == "muted")
        #expect(close.series == "m")
        #expect(!d.episodes.isOpen)
    }
}

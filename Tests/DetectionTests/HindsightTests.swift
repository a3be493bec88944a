import Detection
import Foundation
import Recurrent
import Testing

/// A noisy daily-like wave of `n` minute-spaced points, with `edit` applied to the values.
func hindsightWindow(_ n: Int, edit: (inout [Double]) -> Void = { _ in }) -> (values: [Double], timestamps: [Double]) {
    var values = [Double](repeating: 0, count: n)
    for i in 0..<n {
        let phase = Double(i) * 2 * Double.pi / 48
        values[i] = 10 + 3 * sin(phase) + Double((i * 7919) % 13) / 13
    }
    edit(&values)
    return (values, (0..<n).map { 1_700_000_000 + Double($0) * 60 })
}

func review(_ w: (values: [Double], timestamps: [Double]), cell: CellKind = .lstm) -> Hindsight {
    Hindsight.review(values: w.values, timestamps: w.timestamps, normaliser: Normaliser.fit(w.values), calendar: false,
                     cell: cell, seed: 3)
}

struct HindsightTests {
    /// Isolated spikes the two sides cannot explain are marked extreme; almost nothing else is.
    @Test(arguments: CellKind.allCases)
    func spikesAreMarked(cell: CellKind) {
        let spikes = [250, 520, 830]
        let marked = review(hindsightWindow(1000) { v in for i in spikes { v[i] += 8 } }, cell: cell).extremes()
        for i in spikes { #expect(marked[i], "spike at \(i) not marked") }
        #expect(marked.filter { $0 }.count <= spikes.count + 10)
    }

    /// A clean window loses at most a few points, and never more than `maxMarkedFraction`.
    @Test func cleanWindowKeepsAlmostEverything() {
        let h = review(hindsightWindow(1000))
        let marked = h.extremes().filter { $0 }.count
        #expect(marked <= 10)
        #expect(h.deviations.count == 1000 && h.deviations.allSatisfy { $0.isFinite })
    }

    /// In review, an excursion the series came back from scores above a level the series then kept.
    @Test func spikeScoresAboveKeptLevel() {
        let w = hindsightWindow(1000) { v in
            v[300] += 8
            for i in 600..<1000 { v[i] += 8 }
        }
        func verdict(_ from: Int, _ to: Int) -> Double {
            HindsightReviewJob(series: "s", episode: 1, openedAt: w.timestamps[from], closedAt: w.timestamps[to],
                               values: w.values, timestamps: w.timestamps, cell: .lstm, calendar: .off, seed: 5)
                .run().score
        }
        let spike = verdict(300, 310), shift = verdict(600, 610)
        #expect(spike > shift, "spike \(spike), kept level \(shift)")
        #expect(spike >= 0 && spike <= 1 && shift >= 0 && shift <= 1)
    }

    /// With `clean_window = "hindsight"` a retraining leaves spikes out of the loss; with "episodes" it does not.
    @Test func trainingJobCleansOnlyWhenAsked() {
        var c = smallConfig()
        c.learning.window = 600
        c.learning.warmupPoints = 600
        let spikes = [100, 240, 410]
        let d = SeriesDetector(key: "t", config: c)
        for i in 0..<600 {
            _ = try? d.process(timestamp: 1_700_000_000 + Double(i) * 60, value: wave(i) + (spikes.contains(i) ? 20 : 0))
        }
        let episodes = d.makeTrainingJob().run()
        d.cancelTraining()
        c.learning.cleanWindow = .hindsight
        let h = SeriesDetector(key: "t", config: c)
        for i in 0..<600 {
            _ = try? h.process(timestamp: 1_700_000_000 + Double(i) * 60, value: wave(i) + (spikes.contains(i) ? 20 : 0))
        }
        let cleaned = h.makeTrainingJob().run()
        #expect(episodes.cleaned == 0)
        #expect(cleaned.cleaned >= spikes.count && cleaned.cleaned <= 30, "cleaned \(cleaned.cleaned)")
        #expect(cleaned.accepted)
    }
}

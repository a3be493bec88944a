import Detection
import Testing
@testable import Replay

struct ReplayHindsightTests {
    /// With hindsight review every episode's rows (its close row included) carry its number and one score in
    /// [0, 1], other rows carry neither, the scores and flags are those of a plain replay, and two runs agree.
    @Test func episodesGetHindsightScores() throws {
        let rows = try CSVSeriesReader().parse(text: generatedCSV())
        var config = DetectorConfig()
        config.learning.warmupPoints = 300
        let plain = ReplayRunner(config: config, series: "generated.csv").run(rows)
        let runner = ReplayRunner(config: config, series: "generated.csv", hindsight: true)
        let a = runner.run(rows)
        #expect(a.csv() == runner.run(rows).csv())
        #expect(a.rows.map(\.score) == plain.rows.map(\.score) && a.rows.map(\.flag) == plain.rows.map(\.flag))
        let lines = a.csv().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "timestamp,value,prediction,lower,upper,anomaly_score,flag,cause,episode,hindsight_score")
        #expect(a.summary.episodes >= 1)
        var scores: [Int: Set<Double>] = [:]
        for r in a.rows {
            #expect((r.episode == nil) == (r.hindsight == nil))
            if r.flag { #expect(r.episode != nil) }
            if let e = r.episode, let h = r.hindsight { scores[e, default: []].insert(h) }
        }
        #expect(scores.count == a.summary.episodes)
        #expect(scores.values.allSatisfy { $0.count == 1 && $0.allSatisfy { $0 >= 0 && $0 <= 1 } })
    }
}

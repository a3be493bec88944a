import Foundation
import Logging
import Testing
import Configuration
import Detection
import History
@testable import Daemon

@Suite struct MetricsTests {
    private func snapshot(points: Int, backlog: Double) -> MetricsSnapshot {
        MetricsSnapshot(
            counters: [
                MetricSample(name: "omen_points_received_total", help: "Points.", value: Double(points)),
                MetricSample(name: "omen_points_rejected_total", help: "Rejected.", labels: [("reason", "malformed")], value: 3),
                MetricSample(name: "omen_points_rejected_total", help: "Rejected.", labels: [("reason", "non_finite")], value: 0),
            ],
            gauges: [MetricSample(name: "omen_training_backlog", help: "Backlog.", value: backlog)])
    }

    /// A scrape copies the counters' totals into the registry; the next scrape shows them moved, gauges set.
    @Test func renderExportsTotalsAndMovesWithThem() throws {
        let metrics = DaemonMetrics()
        let first = try PrometheusText.parse(String(decoding: metrics.render(snapshot(points: 10, backlog: 2)), as: UTF8.self))
        #expect(PrometheusText.value(first, "omen_points_received_total") == 10)
        #expect(PrometheusText.value(first, "omen_points_rejected_total", ["reason": "malformed"]) == 3)
        #expect(PrometheusText.value(first, "omen_points_rejected_total", ["reason": "non_finite"]) == 0)
        #expect(PrometheusText.value(first, "omen_training_backlog") == 2)
        let second = try PrometheusText.parse(String(decoding: metrics.render(snapshot(points: 25, backlog: 0)), as: UTF8.self))
        #expect(PrometheusText.value(second, "omen_points_received_total") == 25)
        #expect(PrometheusText.value(second, "omen_training_backlog") == 0)
        #expect(PrometheusText.sum(second, "omen_points_rejected_total") == 3)
    }

    /// Every cause has a slot of its own, labelled with its name, and an episode without one counts as "none"; the
    /// writer's count of a committed batch lands in those slots (only opens count).
    @Test func episodesOpenedByCauseLandInTheirOwnSlots() {
        #expect(PipelineStats.causeLabels == AnomalyCause.allCases.map(\.rawValue) + ["none"])
        let slots = AnomalyCause.allCases.map { PipelineStats.causeSlot($0) } + [PipelineStats.causeSlot(nil)]
        #expect(Set(slots).count == PipelineStats.causeLabels.count)
        for cause in AnomalyCause.allCases {
            #expect(PipelineStats.causeLabels[PipelineStats.causeSlot(cause)] == cause.rawValue)
        }
        #expect(PipelineStats.causeLabels[PipelineStats.causeSlot(nil)] == "none")

        func event(_ kind: EpisodeEventKind, _ cause: AnomalyCause?) -> EpisodeEvent {
            let episode = Episode(series: "s", number: 1, openedAt: 0, peakAt: 0, peakScore: 0.5, value: 1, predicted: 0,
                                  lower: -1, upper: 1, threshold: 0.25, points: 1, modelVersion: 1, cause: cause)
            return EpisodeEvent(kind: kind, timestamp: 0, score: 0.5, episode: episode)
        }
        let stats = PipelineStats()
        stats.countCommitted(events: [event(.open, .hour), event(.open, .newHigh), event(.open, .hour), event(.open, nil),
                                      event(.update, .frozen), event(.close, .frozen)],
                             checkpoints: [ModelCheckpoint]())
        let counts = Dictionary(uniqueKeysWithValues: stats.openedByCauseCounts().map { ($0.label, $0.count) })
        #expect(counts == ["hour": 2, "new-high": 1, "none": 1, "frozen": 0, "new-low": 0, "prediction": 0, "jump": 0,
                           "rare-value": 0])
        #expect(stats.episodesOpened.load(ordering: .relaxed) == 4)
        #expect(stats.episodesClosed.load(ordering: .relaxed) == 1)
    }

    /// The writer's flush timer becomes a histogram in seconds.
    @Test func flushTimerIsAHistogram() throws {
        let metrics = DaemonMetrics()
        metrics.flushTimer.recordInterval(since: ContinuousClock.now - .milliseconds(3))
        let text = String(decoding: metrics.render(MetricsSnapshot()), as: UTF8.self)
        let samples = try PrometheusText.parse(text)
        #expect(PrometheusText.value(samples, "omen_writer_flush_seconds_count") == 1)
        let sum = try #require(PrometheusText.value(samples, "omen_writer_flush_seconds_sum"))
        #expect(sum >= 0.003 && sum < 10)
        #expect(text.contains("# TYPE omen_writer_flush_seconds histogram"))
    }

    /// The reader refuses what a scraper would refuse.
    @Test func prometheusTextRejectsMalformedLines() {
        #expect(throws: PrometheusTextError.self) { try PrometheusText.parse("1bad 1\n") }
        #expect(throws: PrometheusTextError.self) { try PrometheusText.parse("m{a=\"x} 1\n") }
        #expect(throws: PrometheusTextError.self) { try PrometheusText.parse("m{a=\"x\"} one\n") }
        #expect(throws: PrometheusTextError.self) { try PrometheusText.parse("# TYPE m countr\n") }
        let ok = try? PrometheusText.parse("# HELP m a \"help\"\n# TYPE m gauge\nm{a=\"q\\\"\\n\",b=\"\"} +Inf 1700000000\n")
        #expect(ok?.first?.labels == ["a": "q\"\n", "b": ""])
        #expect(ok?.first?.value == .infinity)
    }

    /// `[metrics] listen` takes HOST:PORT or IPv6 in brackets; anything else is refused with the key's line.
    @Test func listenAddresses() throws {
        #expect(MetricsConfig.parse("127.0.0.1:9464")! == ("127.0.0.1", 9464))
        #expect(MetricsConfig.parse("[::1]:9100")! == ("::1", 9100))
        #expect(MetricsConfig.parse("localhost:1")! == ("localhost", 1))
        for bad in ["9464", ":9464", "host:0", "host:70000", "::1:9464", "[::1]", "a b:1"] {
            #expect(MetricsConfig.parse(bad) == nil, "\(bad)")
        }
        #expect(try ConfigLoader.parse("[metrics]\nlisten = \"\"\n", file: "t.toml").metrics.address == nil)
        do {
            _ = try ConfigLoader.parse("[metrics]\nlisten = \"9464\"\n", file: "t.toml")
            Issue.record("a port alone must be refused")
        } catch {
            #expect(error.description.hasPrefix("t.toml:2: metrics.listen:"), "\(error.description)")
        }
    }

    /// JSON log lines are one object each: fixed keys first, metadata as keys, colliding names prefixed.
    @Test func jsonLogLines() throws {
        let line = JSONLogHandler.line(timestamp: 1_700_000_000.25, level: .info, label: "omen", message: "omen \"started\"\n",
                                       metadata: ["version": "0.13.0", "msg": "clash", "nested": ["a": "1"]])
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["ts"] as? String == "2023-11-14T22:13:20.250Z")
        #expect(object["msg"] as? String == "omen \"started\"\n")
        #expect(object["meta_msg"] as? String == "clash")
        #expect(object["version"] as? String == "0.13.0")
        #expect((object["nested"] as? [String: Any])?["a"] as? String == "1")
    }
}

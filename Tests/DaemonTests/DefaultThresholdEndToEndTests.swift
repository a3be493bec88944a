import Daemon
import Foundation
import History
import Messaging
import Testing

/// Seeded Gaussian noise (SplitMix64 + Box-Muller), so a run can be repeated exactly.
private struct GaussianNoise {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }
    mutating func gaussian() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()) }
}

/// Three clean periodic series (sine of amplitude 10 plus Gaussian noise of sd 0.5, one point every 3 minutes), one
/// of which gets a single spike.
private struct CleanPeriodicSeries {
    static let keys = ["clean.a", "clean.b", "clean.spiked"]
    static let periods = [50.0, 64.0, 40.0]
    static let levels = [0.0, 20.0, 100.0]
    static let start = 1_700_000_000
    /// Seconds between points: 480 a day, so the spike comes after the series' first day.
    static let spacing = 180
    let spikeAt: Int
    let spike: Double
    var noise: GaussianNoise

    init(seed: UInt64, spikeAt: Int, spike: Double) {
        noise = GaussianNoise(state: seed)
        self.spikeAt = spikeAt
        self.spike = spike
    }

    mutating func lines(round i: Int) -> [String] {
        let ts = Self.start + Self.spacing * i
        return Self.keys.indices.map { s in
            var v = Self.levels[s] + 10 * sin(2 * Double.pi * Double(i) / Self.periods[s]) + 0.5 * noise.gaussian()
            if s == 2 && i == spikeAt { v += spike }
            return "\(Self.keys[s]) \(v) \(ts)"
        }
    }

    /// Publishes rounds through a real PUB socket, in batches.
    mutating func publish(endpoint: String, rounds: Range<Int>) throws {
        let payloads = batchedPayloads(rounds) { lines(round: $0) }
        try DaemonTests.publish(payloads, to: endpoint, pauseEvery: 1)
    }
}

@Suite(.serialized)
struct DefaultThresholdEndToEndTests {
    /// At the default threshold, clean periodic series raise nothing and one spike raises exactly one episode, on
    /// its series, at the spike: the real daemon with the default first day of silence (the spike comes on the
    /// second day), 5 independent runs (fresh daemon and noise each time).
    @Test func oneSpikeIsOneEpisodeAtTheDefaultThreshold() throws {
        let rounds = 900
        let spikeAt = 700
        for run in 0..<5 {
            let dir = try makeTempDir("default-threshold-\(run)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let ingest = "tcp://127.0.0.1:\(try freePort())"
            let db = dir.appendingPathComponent("omen.db").path
            let configURL = dir.appendingPathComponent("omen.toml")
            try testConfig(firstDay: true).write(to: configURL, atomically: true, encoding: .utf8)
            let daemon = try OmenProcess(
                arguments: ["run", "--config", configURL.path, "--ingest", ingest, "--alerts", "tcp://127.0.0.1:\(try freePort())",
                            "--database", db], dir: dir)
            #expect(try waitUntilConnected(endpoint: ingest, database: db), "run \(run): stderr: \(daemon.stderr)")

            var series = CleanPeriodicSeries(seed: UInt64(run) &+ 101, spikeAt: spikeAt, spike: 30)
            let store = try Store.openReadOnly(path: db)
            try series.publish(endpoint: ingest, rounds: 0..<400)
            let trained = eventually(timeout: 60) {
                let rows = (try? store.series()) ?? []
                return rows.filter { CleanPeriodicSeries.keys.contains($0.series) && $0.state == .trained }.count == 3
            }
            #expect(trained, "run \(run): models did not train: \(String(describing: try? store.series()))")
            try series.publish(endpoint: ingest, rounds: 400..<rounds)
            let processed = eventually(timeout: 60) {
                let rows = (try? store.series()) ?? []
                return rows.filter { CleanPeriodicSeries.keys.contains($0.series) && $0.points == rounds }.count == 3
            }
            #expect(processed, "run \(run): not every point was processed: \(String(describing: try? store.series()))")
            #expect(daemon.stop() == 0, "run \(run): stderr: \(daemon.stderr)")

            let episodes = try Store.openReadOnly(path: db).anomalies(AnomalyQuery(seriesGlob: "clean.*", limit: 100))
            let spikeTime = Double(CleanPeriodicSeries.start + CleanPeriodicSeries.spacing * spikeAt)
            #expect(episodes.count == 1, "run \(run): \(episodes.count) episodes: \(episodes)")
            #expect(episodes.allSatisfy { $0.series == "clean.spiked" && abs($0.peakAt - spikeTime) <= Double(2 * CleanPeriodicSeries.spacing) },
                    "run \(run): an episode away from the spike: \(episodes)")
            #expect(episodes.allSatisfy { $0.cause == .newHigh }, "run \(run): the spike's cause: \(episodes)")
        }
    }
}

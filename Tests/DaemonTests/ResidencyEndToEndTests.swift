import Daemon
import Foundation
import History
import Messaging
import Testing

/// Resident set of a process in bytes (`/proc/PID/status`), nil when unreadable.
func residentBytes(pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
    return kb * 1024
}

/// `omen series --summary --format json`, parsed.
func seriesSummary(_ db: String) throws -> [String: Any] {
    let out = try runOmen(["series", "--summary", "--format", "json", "--database", db])
    guard out.status == 0, let data = out.stdout.data(using: .utf8),
          let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw TestFailure("omen series --summary failed: \(out.status) \(out.stdout) \(out.stderr)")
    }
    return object
}

/// Publishes lines through one PUB socket, 100 per message (the socket stays open across calls).
final class LinePublisher {
    let context: ZMQContext
    let socket: ZMQSocket

    init(endpoint: String) throws {
        context = try ZMQContext()
        socket = try ZMQSocket(context: context, type: .pub)
        try socket.setSendHighWaterMark(0)
        try socket.setLinger(milliseconds: 5000)
        try socket.connect(endpoint)
        usleep(300_000) // slow joiner
    }

    func send(_ lines: [String]) throws {
        var i = 0
        while i < lines.count {
            try socket.send(frames: [Array(lines[i..<min(i + 100, lines.count)].joined(separator: "\n").utf8)])
            i += 100
            usleep(1_000)
        }
    }

    deinit {
        socket.close()
        context.terminate()
    }
}

@Suite(.serialized)
struct ResidencyEndToEndTests {
    /// With `max_series = 100` and 1,000 distinct keys published, the daemon stays up, its memory stays bounded,
    /// the 900 keys past the limit are refused and counted (stats line and `omen series --summary`, with an
    /// example key), and the 100 admitted series keep detecting.
    @Test func maxSeriesRefusesNewKeysAndKeepsTheAdmittedOnes() throws {
        let dir = try makeTempDir("limits")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ingest = "tcp://127.0.0.1:\(try freePort())"
        let alerts = "tcp://127.0.0.1:\(try freePort())"
        let db = dir.appendingPathComponent("omen.db").path
        let configURL = dir.appendingPathComponent("omen.toml")
        try (testConfig() + "\n[limits]\nmax_series = 100\n\n[daemon]\nstats_interval = \"1s\"\n")
            .write(to: configURL, atomically: true, encoding: .utf8)
        let daemon = try OmenProcess(
            arguments: ["run", "--config", configURL.path, "--ingest", ingest, "--alerts", alerts, "--database", db],
            dir: dir)
        // The probe series is the first of the 1,000 keys (and of the 100 admitted).
        #expect(try waitUntilConnected(endpoint: ingest, database: db), "stderr: \(daemon.stderr)")
        let publisher = try LinePublisher(endpoint: ingest)
        let good = (0..<99).map { "lim.good\($0)" }
        let flood = (0..<900).map { "lim.flood\($0).\(1_700_000_000 + $0)" }
        func goodRound(_ i: Int) -> [String] {
            let ts = 1_700_000_000 + i * 60
            return good.enumerated().map { k, key in
                let spike = (k == 7 && i == 420) ? 60.0 : 0
                return "\(key) \(10 + 3 * sin(Double(i + k) * 2 * .pi / 40) + Double((i * 7919 + k) % 13) / 26 + spike) \(ts)"
            }
        }
        try publisher.send(goodRound(0))
        let store = try Store.openReadOnly(path: db)
        #expect(eventually(timeout: 30) { ((try? store.series()) ?? []).count == 100 }, "the 100 were not admitted")
        guard let pid = Optional(daemon.process.processIdentifier), let rssBefore = residentBytes(pid: pid) else {
            throw TestFailure("cannot read the daemon's resident set")
        }
        // The flood (three points per key) mixed into the good series' rounds.
        for i in 1..<300 {
            var lines = goodRound(i)
            if i <= 3 { lines += flood.map { "\($0) \(i) \(1_700_000_000 + i * 60)" } }
            try publisher.send(lines)
        }
        let refused = eventually(timeout: 30) {
            ((try? seriesSummary(db))?["refused_series"] as? Int) == 900
        }
        #expect(refused, "refusals not counted: \(String(describing: try? seriesSummary(db))); stderr: \(daemon.stderr)")
        let summary = try seriesSummary(db)
        #expect(summary["refused_points"] as? Int == 2_700)
        #expect(summary["resident"] as? Int == 100)
        #expect((summary["refused_example"] as? String)?.hasPrefix("lim.flood") == true)
        #expect(summary["series"] as? Int == 100)
        #expect(daemon.stderr.contains("limits.max_series reached"), "no refusal log line: \(daemon.stderr)")
        #expect(daemon.stderr.contains("example_series=lim.flood"), "no example key logged: \(daemon.stderr)")
        #expect(eventually(timeout: 10) { daemon.stderr.contains("series_refused=900") },
                "stats line without series_refused: \(daemon.stderr)")

        // The admitted series keep detecting: all trained, every point processed, the spike an episode.
        for i in 300..<460 { try publisher.send(goodRound(i)) }
        let detecting = eventually(timeout: 90) {
            let rows = (try? store.series()) ?? []
            return rows.filter { $0.series.hasPrefix("lim.good") }.count == 99
                && rows.filter { $0.series.hasPrefix("lim.good") }.allSatisfy { $0.points == 460 && $0.state == .trained }
        }
        #expect(detecting, "admitted series stopped: \(String(describing: try? store.series()))")
        let spike = eventually(timeout: 30) {
            ((try? store.anomalies(AnomalyQuery(seriesGlob: "lim.good7", limit: 10))) ?? []).contains {
                $0.peakAt == Double(1_700_000_000 + 420 * 60)
            }
        }
        #expect(spike, "no episode at lim.good7's spike: \(String(describing: try? store.anomalies(AnomalyQuery(limit: 20))))")
        let rssAfter = residentBytes(pid: pid) ?? .max
        #expect(rssAfter < rssBefore + 64 << 20, "resident set grew from \(rssBefore) to \(rssAfter) bytes")
        #expect(try store.series().filter { $0.series.hasPrefix("lim.flood") }.isEmpty)
        #expect(daemon.stop() == 0, "stderr: \(daemon.stderr)")
    }

    /// With a short `idle_after`, a trained series that falls silent is checkpointed and dropped from memory, and
    /// its next point brings it back trained, with its model version, point count and episode numbering.
    @Test func idleSeriesIsEvictedAndComesBackTrained() throws {
        let dir = try makeTempDir("idle")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ingest = "tcp://127.0.0.1:\(try freePort())"
        let alerts = "tcp://127.0.0.1:\(try freePort())"
        let db = dir.appendingPathComponent("omen.db").path
        let configURL = dir.appendingPathComponent("omen.toml")
        try (testConfig() + "\n[limits]\nidle_after = \"2s\"\n").write(to: configURL, atomically: true, encoding: .utf8)
        let daemon = try OmenProcess(
            arguments: ["run", "--config", configURL.path, "--ingest", ingest, "--alerts", alerts, "--database", db],
            dir: dir)
        #expect(try waitUntilConnected(endpoint: ingest, database: db), "stderr: \(daemon.stderr)")
        let store = try Store.openReadOnly(path: db)
        let keys = ["e2e.quiet1", "e2e.quiet2", "e2e.spiky"]
        _ = try publishTestSeries(endpoint: ingest, rounds: 0..<600, spikeAt: 550, malformedEvery: 1_000_000)
        let trained = eventually(timeout: 60) {
            let rows = (try? store.series()) ?? []
            return keys.allSatisfy { key in rows.contains { $0.series == key && $0.state == .trained && $0.points == 600 } }
        }
        #expect(trained, "series did not train: \(String(describing: try? store.series()))")
        let firstEpisodes = try store.anomalies(AnomalyQuery(seriesGlob: "e2e.spiky", limit: 10))
        #expect(!firstEpisodes.isEmpty, "no episode at the first spike")
        let before = Dictionary(uniqueKeysWithValues: try store.series().map { ($0.series, $0) })

        // Silence: every series goes idle and is evicted.
        let evicted = eventually(timeout: 30) {
            ((try? seriesSummary(db))?["idle_evicted_now"] as? Int ?? 0) >= 4
        }
        #expect(evicted, "series not evicted: \(String(describing: try? seriesSummary(db))); stderr: \(daemon.stderr)")
        #expect((try seriesSummary(db))["resident"] as? Int == 0)

        // They come back on their next points, trained, and carry on; a second, larger spike (a new extreme, more
        // than the onset filter's 200 points after the first) is the next episode.
        let publisher = try LinePublisher(endpoint: ingest)
        for i in 600..<840 {
            var lines = testLines(round: i, spikeAt: -1)
            if i == 800 { lines[2] = "e2e.spiky 400 \(1_700_000_000 + i * 60)" }
            try publisher.send(lines)
        }
        let back = eventually(timeout: 60) {
            let rows = (try? store.series()) ?? []
            return keys.allSatisfy { key in rows.contains { $0.series == key && $0.points == 840 } }
        }
        #expect(back, "series did not come back: \(String(describing: try? store.series())); stderr: \(daemon.stderr)")
        let restored = eventually(timeout: 10) { ((try? seriesSummary(db))?["restored_total"] as? Int ?? 0) >= 3 }
        #expect(restored, "\(String(describing: try? seriesSummary(db)))")
        let rows = Dictionary(uniqueKeysWithValues: try store.series().map { ($0.series, $0) })
        for key in keys {
            #expect(rows[key]?.state == .trained, "\(key) came back learning")
            #expect((rows[key]?.modelVersion ?? 0) >= (before[key]?.modelVersion ?? 1), "\(key) lost its model version")
        }
        let secondSpike = eventually(timeout: 30) {
            ((try? store.anomalies(AnomalyQuery(seriesGlob: "e2e.spiky", limit: 10))) ?? []).contains {
                $0.peakAt >= Double(1_700_000_000 + 800 * 60) && $0.peakAt <= Double(1_700_000_000 + 803 * 60)
            }
        }
        #expect(secondSpike, "no episode at the second spike: \(String(describing: try? store.anomalies(AnomalyQuery(limit: 10))))")
        let episodes = try store.anomalies(AnomalyQuery(seriesGlob: "e2e.spiky", limit: 10))
        let numbers = episodes.map(\.number).sorted()
        #expect(numbers == Array(1...numbers.count), "episode numbers \(numbers) are not consecutive from 1")
        #expect(daemon.stop() == 0, "stderr: \(daemon.stderr)")
    }
}

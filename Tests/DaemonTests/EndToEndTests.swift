import Bench
import Daemon
import Foundation
import GRDB
import History
import Messaging
import Testing

/// A small, fast configuration for end-to-end runs (the defaults are sized for production series); the episode
/// threshold is the default unless one is given. The test series span hours of simulated time, so a new series'
/// first day of silence (`[scoring] min_history_span`) is off unless `firstDay` keeps the default.
func testConfig(threshold: Double? = nil, firstDay: Bool = false) -> String {
    """
    [scoring]
    \(firstDay ? "# min_history_span: the default" : "min_history_span = 0")

    [model]
    hidden = 8

    [training]
    epochs = 3
    sequence_length = 32
    batch_size = 4

    [learning]
    warmup_points = 200
    window = 400
    retrain_every = 300

    [episodes]
    \(threshold.map { "threshold = \($0)" } ?? "# threshold: the default")
    close_after = 5

    [storage]
    flush_interval = "100ms"
    checkpoint_interval = "1s"

    [metrics]
    # Off: tests run side by side, and 9464 may belong to a daemon of the machine (OperatorTests use free ports).
    listen = ""
    """
}

/// Graphite lines for one round of the test series; the spiky series jumps at `spikeAt`.
func testLines(round i: Int, spikeAt: Int) -> [String] {
    let ts = 1_700_000_000 + i * 60
    let noise = Double((i &* 2_654_435_761) % 1000) / 1000 - 0.5
    let quiet1 = 20 + 5 * sin(Double(i) * 2 * .pi / 50) + noise * 0.5
    let quiet2 = 100 + noise
    let spiky = 10 + 3 * sin(Double(i) * 2 * .pi / 40) + noise * 0.3 + (i == spikeAt ? 80 : 0)
    return ["e2e.quiet1 \(quiet1) \(ts)", "e2e.quiet2 \(quiet2) \(ts)", "e2e.spiky \(spiky) \(ts)"]
}

/// Publishes `rounds` rounds of the test series (plus malformed lines mixed in) through a real PUB socket.
func publishTestSeries(endpoint: String, rounds: Range<Int>, spikeAt: Int, malformedEvery: Int = 50) throws -> Int {
    var malformed = 0
    var lines: [String] = []
    var payloads: [String] = []
    for i in rounds {
        lines += testLines(round: i, spikeAt: spikeAt)
        if i % malformedEvery == 0 {
            lines += ["this is not a metric", "e2e.bad notanumber 1700000000", "e2e.nan NaN 1700000000"]
            malformed += 3
        }
        if lines.count >= 99 {
            payloads.append(lines.joined(separator: "\n"))
            lines = []
        }
    }
    if !lines.isEmpty { payloads.append(lines.joined(separator: "\n")) }
    try publish(payloads, to: endpoint, pauseEvery: 1)
    return malformed
}

/// Waits until the daemon has seen `key` (proof that the PUB→SUB path is connected), probing as needed.
func waitUntilConnected(endpoint: String, database: String, timeout: Double = 20) throws -> Bool {
    let context = try ZMQContext()
    let pub = try ZMQSocket(context: context, type: .pub)
    try pub.connect(endpoint)
    defer {
        pub.close()
        context.terminate()
    }
    var n = 0
    return eventually(timeout: timeout) {
        n += 1
        _ = try? pub.send(frames: [Array("e2e.probe 1 \(1_600_000_000 + n)".utf8)])
        guard FileManager.default.fileExists(atPath: database), let store = try? Store.openReadOnly(path: database) else { return false }
        return ((try? store.series()) ?? []).contains { $0.series == "e2e.probe" }
    }
}

@Suite(.serialized)
struct EndToEndTests {
    /// The real binary: points in over ZeroMQ, the spike becomes an episode in SQLite and an alert on PUB, the quiet
    /// series stay quiet, malformed lines are counted without losing the valid ones, SIGTERM exits 0 with all flushed.
    @Test func spikeBecomesEpisodeAlertAndQueryResult() throws {
        let dir = try makeTempDir("e2e")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ingest = "tcp://127.0.0.1:\(try freePort())"
        let alerts = "tcp://127.0.0.1:\(try freePort())"
        let db = dir.appendingPathComponent("omen.db").path
        let configURL = dir.appendingPathComponent("omen.toml")
        try testConfig().write(to: configURL, atomically: true, encoding: .utf8)
        let notify = try NotifyListener(dir: dir)

        let daemon = try OmenProcess(
            arguments: ["run", "--config", configURL.path, "--ingest", ingest, "--alerts", alerts, "--database", db,
                        "--log-level", "info"],
            environment: ["NOTIFY_SOCKET": notify.path], dir: dir)
        let datagrams = notify.waitFor("READY=1", timeout: 30)
        #expect(datagrams.contains { $0.contains("READY=1") }, "daemon never sent READY=1; stderr: \(daemon.stderr)")

        // Subscribe to alerts before anything can fire.
        let context = try ZMQContext()
        let sub = try ZMQSocket(context: context, type: .sub)
        try sub.subscribe(prefix: "anomaly/")
        try sub.connect(alerts)
        defer {
            sub.close()
            context.terminate()
        }

        #expect(try waitUntilConnected(endpoint: ingest, database: db), "daemon never saw the probe; stderr: \(daemon.stderr)")
        let rounds = 900
        let spikeAt = 700
        let store = try Store.openReadOnly(path: db)
        // Warm up until every model is trained (training runs beside ingest, so a burst can outrun it),
        // then send the rest with the spike.
        _ = try publishTestSeries(endpoint: ingest, rounds: 0..<600, spikeAt: spikeAt)
        let trained = eventually(timeout: 60) {
            let rows = (try? store.series()) ?? []
            return rows.filter { $0.series.hasPrefix("e2e.") && $0.series != "e2e.probe" && $0.state == .trained }.count == 3
        }
        #expect(trained, "models did not train: \(String(describing: try? store.series()))")
        _ = try publishTestSeries(endpoint: ingest, rounds: 600..<rounds, spikeAt: spikeAt)

        let processed = eventually(timeout: 60) {
            let rows = (try? store.series()) ?? []
            return rows.filter { $0.series.hasPrefix("e2e.") && $0.series != "e2e.probe" }.allSatisfy { $0.points == rounds }
                && rows.count >= 4
        }
        #expect(processed, "not every valid point was processed: \(String(describing: try? store.series()))")

        let spikeOpened = eventually(timeout: 30) {
            ((try? store.anomalies(AnomalyQuery(seriesGlob: "e2e.spiky", limit: 10))) ?? []).contains {
                $0.peakAt >= Double(1_700_000_000 + spikeAt * 60) && $0.peakAt <= Double(1_700_000_000 + (spikeAt + 3) * 60)
            }
        }
        #expect(spikeOpened, "no episode at the spike: \(String(describing: try? store.anomalies(AnomalyQuery(limit: 50)))); series: \(String(describing: try? store.series())); stderr: \(daemon.stderr)")
        // Once closed, the spike's episode is reviewed in hindsight on the trainer pool and its score stored.
        let reviewed = eventually(timeout: 30) {
            ((try? store.anomalies(AnomalyQuery(seriesGlob: "e2e.spiky", limit: 10))) ?? []).contains {
                $0.closedAt != nil && ($0.hindsightScore ?? -1) >= 0 && ($0.hindsightScore ?? 2) <= 1
            }
        }
        #expect(reviewed, "no hindsight score: \(String(describing: try? store.anomalies(AnomalyQuery(limit: 50))))")
        let quiet = try store.anomalies(AnomalyQuery(seriesGlob: "e2e.quiet*", limit: 100))
        #expect(quiet.isEmpty, "quiet series raised episodes: \(quiet)")

        // The alert arrived on the PUB socket with the documented frames.
        let buffer = ZMQMessageBuffer()
        var alert: Alert? = nil
        let gotAlert = eventually(timeout: 10) {
            while (try? sub.receive(into: buffer, dontWait: true)) ?? 0 == 2 {
                let topic = String(decoding: buffer.frame(0), as: UTF8.self)
                if topic == "anomaly/open/e2e.spiky" {
                    alert = try? AlertCodec.decode(topic: Array(buffer.frame(0)), body: Array(buffer.frame(1)))
                    return true
                }
            }
            return false
        }
        #expect(gotAlert, "no anomaly/open/e2e.spiky alert received")
        if let alert {
            #expect(alert.series == "e2e.spiky")
            #expect(alert.kind == .open)
            #expect(alert.id > 0)
            #expect(alert.score >= alert.threshold)
            #expect(alert.cause == .newHigh, "the spike is above every value e2e.spiky had: \(alert)")
        }

        // The CLI lists it as JSON while the daemon is running (concurrent read).
        let listed = try runOmen(["anomalies", "--database", db, "--series", "e2e.spiky", "--format", "json"])
        #expect(listed.status == 0, "omen anomalies failed: \(listed.stderr)")
        #expect(listed.stdout.contains("\"series\""), "unexpected output: \(listed.stdout)")
        #expect(listed.stdout.contains("e2e.spiky"))
        #expect(listed.stdout.contains("\"new-high\""), "no cause in the listing: \(listed.stdout)")
        let byCause = try runOmen(["anomalies", "--database", db, "--cause", "new-high,new-low", "--format", "csv"])
        #expect(byCause.status == 0 && byCause.stdout.contains("e2e.spiky"), "\(byCause.stdout) \(byCause.stderr)")
        let otherCause = try runOmen(["anomalies", "--database", db, "--cause", "frozen", "--format", "csv"])
        #expect(otherCause.status == 0 && !otherCause.stdout.contains("e2e.spiky"), "\(otherCause.stdout)")
        let badCause = try runOmen(["anomalies", "--database", db, "--cause", "gremlins"])
        #expect(badCause.status == 1 && badCause.stderr.contains("--cause must be one of"), "\(badCause.stderr)")

        // Malformed lines were counted and logged.
        #expect(daemon.stderr.contains("rejected malformed records"), "no rejection log line: \(daemon.stderr)")

        let status = daemon.stop(signal: SIGTERM, timeout: 60)
        #expect(status == 0, "exit status \(String(describing: status)); stderr: \(daemon.stderr)")
        #expect(notify.waitFor("STOPPING=1", timeout: 5).contains { $0.contains("STOPPING=1") }, "no STOPPING=1 on shutdown")

        // Everything flushed: every series has its final point count and a checkpoint.
        let after = try Store.openReadOnly(path: db)
        let series = try after.series()
        for key in ["e2e.quiet1", "e2e.quiet2", "e2e.spiky"] {
            #expect(series.first { $0.series == key }?.points == rounds, "\(key) not flushed: \(series)")
        }
        let checkpoints = try after.loadCheckpoints()
        #expect(Set(checkpoints.map(\.key)).isSuperset(of: ["e2e.quiet1", "e2e.quiet2", "e2e.spiky"]))
    }

    /// A restarted daemon restores models (no return to learning, versions continue); a checkpoint blob of the
    /// wrong version is rejected with a log line and only that series relearns.
    @Test func restartRestoresCheckpointsAndRejectsBadBlob() throws {
        let dir = try makeTempDir("restart")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("omen.db").path
        let configURL = dir.appendingPathComponent("omen.toml")
        try testConfig().write(to: configURL, atomically: true, encoding: .utf8)

        func start() throws -> (OmenProcess, String) {
            let ingest = "tcp://127.0.0.1:\(try freePort())"
            let alerts = "tcp://127.0.0.1:\(try freePort())"
            let p = try OmenProcess(arguments: ["run", "--config", configURL.path, "--ingest", ingest, "--alerts", alerts,
                                                "--database", db], dir: dir)
            return (p, ingest)
        }

        var (daemon, ingest) = try start()
        #expect(try waitUntilConnected(endpoint: ingest, database: db), "stderr: \(daemon.stderr)")
        _ = try publishTestSeries(endpoint: ingest, rounds: 0..<500, spikeAt: -1, malformedEvery: 1_000_000)
        let store = try Store.openReadOnly(path: db)
        let trained = eventually(timeout: 60) {
            let rows = (try? store.series()) ?? []
            let keys = ["e2e.quiet1", "e2e.quiet2", "e2e.spiky"]
            return keys.allSatisfy { key in
                rows.contains { (row: SeriesRecord) -> Bool in
                    row.series == key && row.points == 500 && row.state == .trained
                }
            }
        }
        #expect(trained, "series did not train: \(String(describing: try? store.series()))")
        #expect(daemon.stop() == 0, "stderr: \(daemon.stderr)")
        let before = Dictionary(uniqueKeysWithValues: try store.series().map { ($0.series, $0) })

        // Corrupt one blob's format version byte.
        let queue = try DatabaseQueue(path: db)
        // Its own connection each time: `queue` is closed before the restart.
        func savedAt() throws -> [String: Double] {
            var readOnly = Configuration()
            readOnly.readonly = true
            let reader = try DatabaseQueue(path: db, configuration: readOnly)
            defer { try? reader.close() }
            return try reader.read { db in
                let rows = try Row.fetchAll(db, sql: """
                    SELECT s.key, m.saved_at FROM models m JOIN series s ON s.id = m.series_id
                    """)
                return Dictionary(uniqueKeysWithValues: rows.map { (row: Row) in (row[0] as String, row[1] as Double) })
            }
        }
        let savedBefore = try savedAt()
        try queue.write { db in
            try db.execute(sql: """
                UPDATE models SET blob = X'FF' || substr(blob, 2)
                WHERE series_id = (SELECT id FROM series WHERE key = ?)
                """, arguments: ["e2e.quiet2"])
        }
        try queue.close()

        (daemon, ingest) = try start()
        #expect(try waitUntilConnected(endpoint: ingest, database: db), "stderr: \(daemon.stderr)")
        // Restored series that receive nothing are not rewritten by the 1 s checkpoint rounds: once a round has
        // rewritten the probe series (which gets points), the idle ones still have their old checkpoints.
        let probeContext = try ZMQContext()
        let probe = try ZMQSocket(context: probeContext, type: .pub)
        try probe.connect(ingest)
        var sent = 0
        let probeRewritten = eventually(timeout: 30) {
            sent += 1
            _ = try? probe.send(frames: [Array("e2e.probe 2 \(1_650_000_000 + sent)".utf8)])
            let saved = (try? savedAt()) ?? [:]
            return saved["e2e.probe"] != nil && saved["e2e.probe"] != savedBefore["e2e.probe"]
        }
        probe.close()
        probeContext.terminate()
        #expect(probeRewritten, "no checkpoint round after the restart: \(daemon.stderr)")
        let savedIdle = try savedAt()
        for key in ["e2e.quiet1", "e2e.spiky"] {
            #expect(savedIdle[key] != nil && savedIdle[key] == savedBefore[key], "idle \(key) was checkpointed again")
        }
        _ = try publishTestSeries(endpoint: ingest, rounds: 500..<560, spikeAt: -1, malformedEvery: 1_000_000)
        // Every series (each shard writes its own summaries) has reported its last point.
        let lastTimestamp = Double(1_700_000_000 + 559 * 60)
        let continued = eventually(timeout: 30) {
            let rows = (try? store.series()) ?? []
            return ["e2e.quiet1", "e2e.quiet2", "e2e.spiky"].allSatisfy { key in
                rows.contains { $0.series == key && $0.lastSeen == lastTimestamp }
            } && rows.contains { $0.series == "e2e.spiky" && $0.points == 560 }
        }
        #expect(continued, "restored series did not continue its point count: \(String(describing: try? store.series()))")
        let rows = Dictionary(uniqueKeysWithValues: try store.series().map { ($0.series, $0) })
        for key in ["e2e.quiet1", "e2e.spiky"] {
            #expect(rows[key]?.state == .trained, "\(key) went back to learning")
            #expect((rows[key]?.modelVersion ?? 0) >= (before[key]?.modelVersion ?? 1))
        }
        #expect(daemon.stderr.contains("checkpoint rejected"), "no log line for the bad blob: \(daemon.stderr)")
        #expect(daemon.stderr.contains("e2e.quiet2"))
        #expect(rows["e2e.quiet2"]?.state == .learning, "the corrupted series should relearn")
        #expect(daemon.stop() == 0, "stderr: \(daemon.stderr)")
    }

    /// A bad configuration stops the start with the file, line, key and reason, and a non-zero exit code.
    @Test func badConfigIsRejectedWithLineAndReason() throws {
        let dir = try makeTempDir("badconfig")
        defer { try? FileManager.default.removeItem(at: dir) }
        let configURL = dir.appendingPathComponent("bad.toml")
        try "[learning]\nwarmup_points = 300\nwindow = \"big\"\n".write(to: configURL, atomically: true, encoding: .utf8)
        let result = try runOmen(["run", "--config", configURL.path, "--database", dir.appendingPathComponent("x.db").path], timeout: 30)
        #expect(result.status != 0)
        #expect(result.stderr.contains("bad.toml:3"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("window"), "stderr: \(result.stderr)")
    }
}

/// A free TCP port on 127.0.0.1.
func freePort() throws -> Int {
    try freeTCPPort()
}

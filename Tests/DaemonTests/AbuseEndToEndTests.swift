import Daemon
import Detection
import Foundation
import GRDB
import History
import Messaging
import Testing

// The real binary under abuse (issue 15): a second daemon, a dead stderr reader, a deleted database, hostile keys,
// a kill -9 under load. Each test starts its own daemon on free ports in its own directory.

/// A daemon of the end-to-end configuration in `dir`, on free ports, with a notify socket to wait for READY=1.
struct AbuseDaemon {
    let process: OmenProcess
    let ingest: String
    let alerts: String
    let database: String
    let notify: NotifyListener

    init(
        dir: URL, database: String? = nil, config: String = testConfig(), extraArguments: [String] = [],
        standardError: FileHandle? = nil
    ) throws {
        ingest = "tcp://127.0.0.1:\(try freePort())"
        alerts = "tcp://127.0.0.1:\(try freePort())"
        self.database = database ?? dir.appendingPathComponent("omen.db").path
        let configURL = dir.appendingPathComponent("omen-\(UInt32.random(in: 0...UInt32.max)).toml")
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        let notifyDir = dir.appendingPathComponent("n\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: notifyDir, withIntermediateDirectories: true)
        notify = try NotifyListener(dir: notifyDir)
        process = try OmenProcess(
            arguments: [
                "run", "--config", configURL.path, "--ingest", ingest, "--alerts", alerts,
                "--database", self.database,
            ] + extraArguments,
            environment: ["NOTIFY_SOCKET": notify.path], dir: dir, standardError: standardError)
    }

    /// Waits for READY=1 (bounded).
    func waitReady(timeout: Double = 30) -> Bool {
        notify.waitFor("READY=1", timeout: timeout).contains { $0.contains("READY=1") }
    }
}

/// Graphite lines for round `i` of `quiet` quiet series and four spiky ones that jump every 40 rounds (after
/// `spikesFrom`), at different phases, so a run keeps opening and closing episodes. With `quietSpikeAt`, the
/// first four quiet series jump once each, 20 rounds apart from that round on (spikes they have never seen: the
/// periodic ones become normal for the spiky series after a while).
func loadLines(round i: Int, quiet: Int = 12, spikesFrom: Int = .max, quietSpikeAt: Int = .max) -> [String] {
    let ts = 1_700_000_000 + i * 60
    var lines: [String] = []
    for s in 0..<quiet {
        let noise = Double((i &* 2_654_435_761 &+ s &* 40_503) % 1000) / 1000 - 0.5
        let jump = s < 4 && i - s * 20 == quietSpikeAt ? 300.0 : 0
        lines.append("load.quiet\(s) \(50 + 10 * sin(Double(i + s) * 2 * .pi / 60) + noise + jump) \(ts)")
    }
    for s in 0..<4 {
        let noise = Double((i &* 2_654_435_761 &+ s &* 97) % 1000) / 1000 - 0.5
        let spike = i >= spikesFrom && (i + s * 10) % 40 == 0 ? 90.0 : 0
        lines.append("load.spiky\(s) \(10 + 3 * sin(Double(i) * 2 * .pi / 40) + noise * 0.3 + spike) \(ts)")
    }
    return lines
}

/// Rounds `rounds` of `loadLines` packed into payloads of about 100 records.
func loadPayloads(_ rounds: Range<Int>, spikesFrom: Int = .max, quietSpikeAt: Int = .max) -> [String] {
    batchedPayloads(rounds, linesPerPayload: 96) { loadLines(round: $0, spikesFrom: spikesFrom, quietSpikeAt: quietSpikeAt) }
}

/// `PRAGMA integrity_check` of a database file, read-only.
func integrityCheck(_ path: String) throws -> String {
    var configuration = Configuration()
    configuration.readonly = true
    let queue = try DatabaseQueue(path: path, configuration: configuration)
    defer { try? queue.close() }
    return try queue.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
}

@Suite(.serialized)
struct AbuseEndToEndTests {
    /// A second daemon on the same database stops at once with a non-zero exit naming the lock file; the first one
    /// runs on undisturbed and exits 0.
    @Test func secondDaemonOnSameDatabaseIsRefused() throws {
        let dir = try makeTempDir("lock")
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try AbuseDaemon(dir: dir)
        #expect(first.waitReady(), "first daemon not ready: \(first.process.stderr)")
        let second = try AbuseDaemon(dir: dir, database: first.database)
        let status = second.process.waitForExit(timeout: 30)
        #expect(status != nil && status != 0, "second daemon exit status \(String(describing: status))")
        #expect(second.process.stderr.contains(first.database + ".lock"), "stderr: \(second.process.stderr)")
        #expect(
            second.process.stderr.contains("pid \(first.process.process.processIdentifier)"),
            "stderr: \(second.process.stderr)")
        #expect(try waitUntilConnected(endpoint: first.ingest, database: first.database))
        #expect(first.process.stop() == 0, "stderr: \(first.process.stderr)")
    }

    /// With stderr a pipe whose reader was killed, log lines fail with EPIPE instead of killing the daemon: SIGTERM
    /// still exits 0 with every series checkpointed.
    @Test func deadStderrReaderDoesNotKillTheDaemon() throws {
        let dir = try makeTempDir("sigpipe")
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipe = Pipe()
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/cat")
        reader.standardInput = pipe.fileHandleForReading
        reader.standardOutput = FileHandle.nullDevice
        try reader.run()
        let daemon = try AbuseDaemon(
            dir: dir, extraArguments: ["--log-level", "debug"],
            standardError: pipe.fileHandleForWriting)
        // Only the child processes hold the pipe now: when cat dies, nobody reads it.
        try pipe.fileHandleForReading.close()
        try pipe.fileHandleForWriting.close()
        #expect(daemon.waitReady(), "daemon not ready")
        #expect(try waitUntilConnected(endpoint: daemon.ingest, database: daemon.database))
        try publish(loadPayloads(0..<300), to: daemon.ingest, pauseEvery: 10)
        let store = try Store.openReadOnly(path: daemon.database)
        #expect(eventually(timeout: 30) { ((try? store.series()) ?? []).filter { $0.points == 300 }.count == 16 })
        kill(reader.processIdentifier, SIGKILL)
        reader.waitUntilExit()
        // Rejected records make the daemon log (rate-limited) into the dead pipe while it keeps running.
        try publish(["not a metric", "still not a metric"], to: daemon.ingest)
        usleep(300_000)
        #expect(daemon.process.process.isRunning, "the daemon died writing to a closed pipe")
        let status = daemon.process.stop(signal: SIGTERM, timeout: 60)
        #expect(status == 0, "exit status \(String(describing: status)) (141 = SIGPIPE)")
        let checkpoints = try Store.openReadOnly(path: daemon.database).loadCheckpoints()
        #expect(checkpoints.filter { $0.key.hasPrefix("load.") }.count == 16, "checkpoints: \(checkpoints.map(\.key))")
    }

    /// Deleting the database under a running daemon stops it with an error naming the file and a non-zero exit,
    /// instead of writing on into an unlinked file.
    @Test func deletedDatabaseStopsTheDaemon() throws {
        let dir = try makeTempDir("deleted")
        defer { try? FileManager.default.removeItem(at: dir) }
        let daemon = try AbuseDaemon(dir: dir)
        #expect(daemon.waitReady(), "daemon not ready: \(daemon.process.stderr)")
        #expect(try waitUntilConnected(endpoint: daemon.ingest, database: daemon.database))
        for suffix in ["", "-wal", "-shm"] { unlink(daemon.database + suffix) }
        let status = daemon.process.waitForExit(timeout: 30)
        #expect(
            status != nil && status != 0, "exit status \(String(describing: status)); stderr: \(daemon.process.stderr)")
        #expect(daemon.process.stderr.contains("was deleted"), "stderr: \(daemon.process.stderr)")
        #expect(daemon.process.stderr.contains("error"), "stderr: \(daemon.process.stderr)")
    }

    /// A key that imitates another with a NUL (or carries any control character) is refused at ingest in every
    /// format: the victim keeps its own points, row and checkpoint.
    @Test func nulKeysAreRefusedAndTheVictimIsUntouched() throws {
        let dir = try makeTempDir("nul")
        defer { try? FileManager.default.removeItem(at: dir) }
        let daemon = try AbuseDaemon(dir: dir)
        #expect(daemon.waitReady(), "daemon not ready: \(daemon.process.stderr)")
        #expect(try waitUntilConnected(endpoint: daemon.ingest, database: daemon.database))
        var payloads: [String] = []
        for i in 0..<250 {
            let ts = 1_700_000_000 + i * 60
            payloads.append(
                """
                victim.cpu \(10 + i % 7) \(ts)
                {"series":"victim.cpu\\u0000x","value":\(900 + i),"ts":\(ts + 30)}
                victim.cpu\u{1}x \(900 + i) \(ts + 30)
                m,host=victim\u{1B}[2J v=\(900 + i) \(Int64(ts + 30) * 1_000_000_000)
                """)
        }
        try publish(payloads, to: daemon.ingest, pauseEvery: 20)
        let store = try Store.openReadOnly(path: daemon.database)
        #expect(
            eventually(timeout: 30) {
                ((try? store.series()) ?? []).contains { $0.series == "victim.cpu" && $0.points == 250 }
            },
            "victim: \(String(describing: try? store.series()))")
        #expect(daemon.process.stop() == 0, "stderr: \(daemon.process.stderr)")
        let rows = try Store.openReadOnly(path: daemon.database).series()
        #expect(rows.map(\.series).sorted() == ["e2e.probe", "victim.cpu"], "rows: \(rows.map(\.series))")
        #expect(rows.first { $0.series == "victim.cpu" }?.lastSeen == Double(1_700_000_000 + 249 * 60))
        let checkpoints = try Store.openReadOnly(path: daemon.database).loadCheckpoints()
        #expect(checkpoints.map(\.key).sorted() == ["e2e.probe", "victim.cpu"])
        #expect(daemon.process.stderr.contains("controlCharacter"), "stderr: \(daemon.process.stderr)")
    }

    /// kill -9 under load, then a restart: the file passes integrity_check, every alert published before the kill has
    /// its row (same id, series and episode), the restart restores the trained models, and episodes opened after it
    /// take new numbers (no duplicate of an episode the store had).
    @Test func killNineUnderLoadLosesNoPublishedAlert() throws {
        let dir = try makeTempDir("crash")
        defer { try? FileManager.default.removeItem(at: dir) }
        var daemon = try AbuseDaemon(dir: dir)
        #expect(daemon.waitReady(), "daemon not ready: \(daemon.process.stderr)")
        let context = try ZMQContext()
        defer { context.terminate() }
        let sub = try ZMQSocket(context: context, type: .sub)
        defer { sub.close() }
        try sub.setLinger(milliseconds: 0)
        try sub.setReceiveHighWaterMark(0)
        try sub.subscribe(prefix: "anomaly/")
        try sub.connect(daemon.alerts)
        #expect(try waitUntilConnected(endpoint: daemon.ingest, database: daemon.database))
        // Train first (paced), then spikes as fast as ingest takes them, and kill in the middle of it.
        try publish(loadPayloads(0..<600), to: daemon.ingest, pauseEvery: 5)
        let store = try Store.openReadOnly(path: daemon.database)
        let trained = eventually(timeout: 90) {
            ((try? store.series()) ?? []).filter { $0.series.hasPrefix("load.spiky") && $0.state == .trained }.count
                == 4
        }
        #expect(trained, "spiky series did not train: \(String(describing: try? store.series()))")
        let buffer = ZMQMessageBuffer()
        var alerts: [Alert] = []
        func drain() {
            while (try? sub.receive(into: buffer, dontWait: true)) ?? 0 == 2 {
                if let alert = try? AlertCodec.decode(topic: Array(buffer.frame(0)), body: Array(buffer.frame(1))) {
                    alerts.append(alert)
                }
            }
        }
        let load = loadPayloads(600..<2_600, spikesFrom: 600)
        let ingest = daemon.ingest
        let sender = Thread {
            // About 10 s of load (some 3,000 points/s), so the kill lands in the middle of it.
            try? publish(load, to: ingest, pauseEvery: 1, pause: 30_000)
        }
        sender.start()
        let someAlerts = eventually(timeout: 60) {
            drain()
            return alerts.filter { $0.kind == .open }.count >= 4
        }
        #expect(someAlerts, "no alerts under load; stderr: \(daemon.process.stderr)")
        #expect(!sender.isFinished, "the load was over before the kill")
        kill(daemon.process.process.processIdentifier, SIGKILL)
        #expect(daemon.process.waitForExit(timeout: 10) != nil)
        usleep(200_000)
        drain()
        #expect(try integrityCheck(daemon.database) == "ok")
        let rows = try Store.openReadOnly(path: daemon.database).anomalies(AnomalyQuery(limit: 0))
        let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0) })
        for alert in alerts {
            let row = byID[alert.id]
            #expect(
                row?.series == alert.series && row?.number == alert.number,
                "alert \(alert.id) \(alert.series) has no row (episode \(alert.number), got \(String(describing: row)))"
            )
        }
        var maxEpisode: [String: Int] = [:]
        for row in rows { maxEpisode[row.series] = max(maxEpisode[row.series] ?? 0, row.number) }
        let idsBefore = Set(rows.map(\.id))

        // Restart: models restored, new episodes numbered after the old ones.
        daemon = try AbuseDaemon(dir: dir, database: daemon.database)
        #expect(daemon.waitReady(), "restart not ready: \(daemon.process.stderr)")
        #expect(daemon.process.stderr.contains("restored series"), "stderr: \(daemon.process.stderr)")
        let restored = try Store.openReadOnly(path: daemon.database).series()
        #expect(restored.filter { $0.series.hasPrefix("load.spiky") && $0.state == .trained }.count == 4)
        try sub.disconnect(try #require(sub.lastEndpoint))
        try sub.connect(daemon.alerts)
        #expect(try waitUntilConnected(endpoint: daemon.ingest, database: daemon.database))
        alerts = []
        try publish(loadPayloads(3_000..<3_400, quietSpikeAt: 3_200), to: daemon.ingest, pauseEvery: 5)
        let newOpens = eventually(timeout: 60) {
            drain()
            return alerts.filter { $0.kind == .open }.count >= 4
        }
        #expect(newOpens, "no new episodes after the restart; stderr: \(daemon.process.stderr)")
        for alert in alerts where alert.kind == .open {
            #expect(alert.number > maxEpisode[alert.series] ?? 0, "\(alert.series) reused episode \(alert.number)")
            #expect(!idsBefore.contains(alert.id))
        }
        #expect(daemon.process.stop() == 0, "stderr: \(daemon.process.stderr)")
        #expect(try integrityCheck(daemon.database) == "ok")
        // Episodes the crash left open were closed at the restart in data time (the points are from 2023), not
        // at the wall-clock time of the restart.
        let closedAtRestart = try Store.openReadOnly(path: daemon.database).anomalies(AnomalyQuery(limit: 0))
            .filter { $0.closeReason == "restart" }
        for row in closedAtRestart {
            #expect((row.closedAt ?? 0) >= row.openedAt && (row.closedAt ?? .infinity) < 1_701_000_000, "\(row)")
        }
    }

    /// A point a day ahead is refused and counted for its series; one five minutes ahead (inside max_future) is
    /// taken, and the real-time points after it are refused only until the series re-anchors (after
    /// reanchor_after = 10 refusals), not for five minutes. `omen series` shows the counts per reason.
    @Test func aFuturePointDoesNotBlindTheSeries() throws {
        let dir = try makeTempDir("clock")
        defer { try? FileManager.default.removeItem(at: dir) }
        let daemon = try AbuseDaemon(dir: dir)
        #expect(daemon.waitReady(), "not ready: \(daemon.process.stderr)")
        #expect(try waitUntilConnected(endpoint: daemon.ingest, database: daemon.database))
        let now = Int(Date().timeIntervalSince1970)
        var lines = (0..<20).map { "clock.victim \($0 % 5) \(now - 100 + $0)" }
        lines.append("clock.victim 1 \(now + 86_000)")  // a day ahead: refused (future)
        lines.append("clock.victim 1 \(now + 300)")  // five minutes ahead: inside max_future, taken
        lines += (0..<30).map { "clock.victim \($0 % 5) \(now - 80 + $0)" }
        try publish([lines.joined(separator: "\n")], to: daemon.ingest)
        let store = try Store.openReadOnly(path: daemon.database)
        let settled = eventually(timeout: 20) {
            ((try? store.series()) ?? []).contains {
                $0.series == "clock.victim" && $0.points == 42 && $0.refusedOutOfOrder == 9
            }
        }
        let row = try store.series().first { $0.series == "clock.victim" }
        #expect(settled, "row: \(String(describing: row)); stderr: \(daemon.process.stderr)")
        #expect(row?.refusedFuture == 1 && row?.refusedOutOfOrder == 9)
        #expect(row?.lastSeen == Double(now - 80 + 29))
        #expect(daemon.process.stderr.contains("series re-anchored"), "stderr: \(daemon.process.stderr)")
        let listed = try runOmen(["series", "--database", daemon.database])
        #expect(listed.stdout.contains("9 old, 1 future"), "omen series: \(listed.stdout)")
        #expect(daemon.process.stop() == 0)
    }

    /// Keys with CR LF, lone CR or LF, quotes, commas, NUL and ESC (a database from before keys were checked)
    /// come back exactly through `--format csv` of `omen series` and `omen anomalies`, read by a CSV parser;
    /// the tables print one line per record with the controls escaped.
    @Test func hostileKeysRoundTripThroughCSV() throws {
        let dir = try makeTempDir("csv")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("old.db").path
        let keys = ["a\r\nb", "\r\n", "c\rd", "e\nf", "q\"u,o\"te", "nul\u{0}x", "esc\u{1B}[2J", "plain"]
        do {
            let store = try Store(path: db)
            var batch = WriteBatch()
            for (i, key) in keys.enumerated() {
                batch.series.append(
                    SeriesUpdate(key: key, firstSeen: 1, lastSeen: 2, points: i + 1, state: .learning, modelVersion: 0))
                batch.events.append(
                    EpisodeEvent(
                        kind: .close, timestamp: 2, score: 0.9,
                        episode: Episode(
                            series: key, number: 1, openedAt: 1, closedAt: 2, peakAt: 1, peakScore: 0.9, value: 1,
                            predicted: 0,
                            lower: -1, upper: 1, threshold: 0.5, points: 2, modelVersion: 1)))
            }
            _ = try store.apply(batch)
        }
        let stored = try Store.openReadOnly(path: db).series().map(\.series)
        // A NUL is cut on its way into SQLite (the reason ingest refuses it): compare with what the store holds.
        let expected = Set(stored)
        #expect(expected.count == keys.count)
        for command in ["series", "anomalies"] {
            let csv = try runOmen([command, "--database", db, "--format", "csv"])
            #expect(csv.status == 0, "\(command): \(csv.stderr)")
            let rows = try RFC4180.parse(csv.stdout)
            let column = try #require(rows.first?.firstIndex(of: "series"))
            #expect(rows.count == keys.count + 1, "\(command) csv: \(csv.stdout.debugDescription)")
            #expect(Set(rows.dropFirst().map { $0[column] }) == expected)
            if let python = try pythonCSVSeriesColumn(csv.stdout) {
                #expect(Set(python) == expected, "python's csv module read \(python)")
            }
            let table = try runOmen([command, "--database", db])
            #expect(table.status == 0)
            #expect(
                table.stdout.split(separator: "\n", omittingEmptySubsequences: false).count == keys.count + 2,
                "\(command) table: \(table.stdout.debugDescription)")
            #expect(!table.stdout.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x7F })
        }
    }
}

/// The `series` column of a CSV text as Python's csv module reads it, or nil when there is no python3 here.
func pythonCSVSeriesColumn(_ text: String) throws -> [String]? {
    guard
        let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: FileManager.default.isExecutableFile)
    else {
        return nil
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    // Each series value goes out as JSON so that every byte survives the trip back.
    process.arguments = [
        "-c",
        """
        import csv, io, json, sys
        data = sys.stdin.buffer.read().decode("utf-8")
        print(json.dumps([row["series"] for row in csv.DictReader(io.StringIO(data, newline=""))]))
        """,
    ]
    let input = Pipe(), output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    try input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    try input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw TestFailure("python3 csv failed") }
    return try JSONDecoder().decode([String].self, from: data)
}

/// A strict RFC 4180 reader, written from the RFC rather than from the writer under test: fields separated by
/// commas, records by CRLF or LF; a quoted field may hold commas, CR, LF and doubled quotes.
enum RFC4180 {
    struct Malformed: Error {}

    static func parse(_ text: String) throws -> [[String]] {
        let bytes = Array(text.utf8)
        var rows: [[String]] = []
        var row: [String] = []
        var field: [UInt8] = []
        var i = 0
        var quoted = false
        var atFieldStart = true
        func endField() {
            row.append(String(decoding: field, as: UTF8.self))
            field = []
            atFieldStart = true
        }
        while i < bytes.count {
            let c = bytes[i]
            if quoted {
                if c == 0x22 {
                    if i + 1 < bytes.count && bytes[i + 1] == 0x22 {
                        field.append(0x22)
                        i += 2
                        continue
                    }
                    quoted = false
                    i += 1
                    // After a closing quote only a separator or the end of the record may follow.
                    guard i == bytes.count || [0x2C, 0x0A, 0x0D].contains(bytes[i]) else { throw Malformed() }
                    continue
                }
                field.append(c)
                i += 1
                continue
            }
            switch c {
            case 0x22:
                guard atFieldStart else { throw Malformed() }
                quoted = true
                atFieldStart = false
            case 0x2C:
                endField()
            case 0x0D:
                guard i + 1 < bytes.count, bytes[i + 1] == 0x0A else { throw Malformed() }
                i += 1
                endField()
                rows.append(row)
                row = []
            case 0x0A:
                endField()
                rows.append(row)
                row = []
            default:
                field.append(c)
                atFieldStart = false
            }
            i += 1
        }
        guard !quoted else { throw Malformed() }
        if !field.isEmpty || !row.isEmpty { endField(); rows.append(row) }
        return rows
    }
}

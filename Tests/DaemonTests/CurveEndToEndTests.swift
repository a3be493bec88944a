import Foundation
import History
import Messaging
import Testing

/// Keys made by the real `omen keys generate`, in `dir`: the daemon's, an allowed publisher's, an allowed alert
/// subscriber's and a stranger's; the allowed public certificates are copied into `dir/clients`.
struct CurveFixture {
    let dir: URL
    var clients: String { dir.appendingPathComponent("clients").path }
    func secret(_ name: String) -> String { dir.appendingPathComponent("\(name).cert_secret").path }
    func publicCert(_ name: String) -> String { dir.appendingPathComponent("\(name).cert").path }

    init(dir: URL) throws {
        self.dir = dir
        try FileManager.default.createDirectory(
            atPath: dir.appendingPathComponent("clients").path, withIntermediateDirectories: true)
        for name in ["server", "producer", "subscriber", "stranger"] {
            let made = try runOmen(["keys", "generate", name, "--directory", dir.path])
            guard made.status == 0 else { throw TestFailure("omen keys generate \(name): \(made.stderr)") }
        }
        for name in ["producer", "subscriber"] {
            try FileManager.default.copyItem(atPath: publicCert(name), toPath: clients + "/\(name).cert")
        }
    }

    var config: String {
        testConfig() + """

            [daemon]
            stats_interval = "500ms"

            [security]
            secret_key = "\(secret("server"))"
            allowed_clients = "\(clients)"
            """
    }
}

@Suite(.serialized)
struct CurveEndToEndTests {
    /// With [security], only an allowed key's points are counted (a stranger's key and a plain publisher are
    /// refused), the allowed client is counted and logged, and alerts reach an allowed subscriber and nobody
    /// without a key.
    @Test func onlyAllowedClientsPublishAndSubscribe() throws {
        let dir = try makeTempDir("curve")
        defer { try? FileManager.default.removeItem(at: dir) }
        let keys = try CurveFixture(dir: dir)
        let daemon = try AbuseDaemon(dir: dir, config: keys.config)
        #expect(daemon.waitReady(), "not ready: \(daemon.process.stderr)")

        // Alert subscribers: one with an allowed key, one without CURVE.
        let context = try ZMQContext()
        defer { context.terminate() }
        let server = try CurveCertificate.load(path: keys.publicCert("server"), requireSecret: false).publicKey
        let keyed = try ZMQSocket(context: context, type: .sub)
        try keyed.makeCurveClient(
            try CurveCertificate.load(path: keys.secret("subscriber"), requireSecret: true), server: server)
        let plain = try ZMQSocket(context: context, type: .sub)
        defer {
            keyed.close()
            plain.close()
        }
        for sub in [keyed, plain] {
            try sub.setLinger(milliseconds: 0)
            try sub.subscribe(prefix: "anomaly/")
            try sub.connect(daemon.alerts)
        }

        // Points from three publishers, each through the real `omen publish`.
        func publishFile(_ lines: [String], key: String?) throws -> Int32 {
            let file = dir.appendingPathComponent("points-\(UInt32.random(in: 0...UInt32.max)).txt")
            try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
            var arguments = ["publish", "--endpoint", daemon.ingest, file.path]
            if let key { arguments += ["--client-key", keys.secret(key), "--server-key", keys.publicCert("server")] }
            return try runOmen(arguments, timeout: 60).status
        }
        let warm = (0..<600).flatMap { testLines(round: $0, spikeAt: -1) }
        #expect(try publishFile(warm, key: "producer") == 0)
        #expect(try publishFile((0..<50).map { "curve.stranger 1 \(1_700_000_000 + $0)" }, key: "stranger") == 0)
        #expect(try publishFile((0..<50).map { "curve.plain 1 \(1_700_000_000 + $0)" }, key: nil) == 0)
        let store = try Store.openReadOnly(path: daemon.database)
        let trained = eventually(timeout: 90) {
            ((try? store.series()) ?? []).filter { $0.series.hasPrefix("e2e.") && $0.state == .trained }.count == 3
        }
        #expect(trained, "series: \(String(describing: try? store.series())); stderr: \(daemon.process.stderr)")
        let spike = (600..<700).flatMap { testLines(round: $0, spikeAt: 650) }
        #expect(try publishFile(spike, key: "producer") == 0)
        let buffer = ZMQMessageBuffer()
        var keyedAlerts = 0, plainAlerts = 0
        _ = eventually(timeout: 30) {
            while (try? keyed.receive(into: buffer, dontWait: true)) ?? 0 > 0 { keyedAlerts += 1 }
            while (try? plain.receive(into: buffer, dontWait: true)) ?? 0 > 0 { plainAlerts += 1 }
            return keyedAlerts > 0
        }
        #expect(
            keyedAlerts > 0,
            "the allowed subscriber got no alert; anomalies: \(String(describing: try? store.anomalies(AnomalyQuery(limit: 10))))"
        )
        #expect(plainAlerts == 0)
        let rows = try store.series().map(\.series)
        #expect(rows.contains("e2e.spiky"))
        #expect(!rows.contains("curve.stranger") && !rows.contains("curve.plain"), "rows: \(rows)")
        // Counted and logged: the producer and the subscriber by name, the stranger refused.
        #expect(
            eventually(timeout: 5) { daemon.process.stderr.contains("curve_clients=producer=") },
            "stderr: \(daemon.process.stderr)")
        #expect(daemon.process.stderr.contains("CURVE client authenticated"))
        #expect(
            daemon.process.stderr.contains("client=producer") && daemon.process.stderr.contains("client=subscriber"))
        #expect(daemon.process.stderr.contains("CURVE client refused"))
        #expect(daemon.process.stop() == 0, "stderr: \(daemon.process.stderr)")
    }

    /// A secret key readable by others, a missing key file and a public certificate given as the secret each stop
    /// the start with exit 78 and a message naming the file; so does a non-loopback bind without [security].
    @Test func badKeyFilesStopTheStartWith78() throws {
        let dir = try makeTempDir("curvebad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let keys = try CurveFixture(dir: dir)
        let db = dir.appendingPathComponent("x.db").path
        func start(_ config: String, _ extra: [String] = []) throws -> (status: Int32, stderr: String) {
            let file = dir.appendingPathComponent("c\(UInt32.random(in: 0...UInt32.max)).toml")
            try config.write(to: file, atomically: true, encoding: .utf8)
            let result = try runOmen(
                [
                    "run", "--config", file.path, "--database", db,
                    "--ingest", "tcp://127.0.0.1:\(try freePort())", "--alerts", "tcp://127.0.0.1:\(try freePort())",
                ] + extra,
                timeout: 30)
            return (result.status, result.stderr)
        }
        chmod(keys.secret("server"), 0o644)
        var result = try start(keys.config)
        #expect(result.status == 78 && result.stderr.contains("chmod 600 \(keys.secret("server"))"), "\(result)")
        chmod(keys.secret("server"), 0o600)
        result = try start(
            keys.config.replacingOccurrences(of: keys.secret("server"), with: dir.path + "/missing.cert_secret"))
        #expect(result.status == 78 && result.stderr.contains("missing.cert_secret"), "\(result)")
        result = try start(keys.config.replacingOccurrences(of: keys.secret("server"), with: keys.publicCert("server")))
        #expect(result.status == 78 && result.stderr.contains("secret-key"), "\(result)")
        result = try start(testConfig(), ["--ingest", "tcp://0.0.0.0:\(try freePort())"])
        #expect(result.status == 78 && result.stderr.contains("allow_insecure"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: db), "the database was created before the keys were checked")
    }
}

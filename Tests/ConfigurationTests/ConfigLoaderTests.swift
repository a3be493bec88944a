import Foundation
import Messaging
import Testing
@testable import Configuration
import Detection
import Recurrent

/// Parses `text` as omen.toml and returns the error it must raise.
private func expectError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigError? {
    do {
        let config = try ConfigLoader.parse(text, file: "omen.toml")
        Issue.record("expected an error, parsed \(config)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

@Suite("Config loading")
struct ConfigLoaderTests {
    /// The shipped config/omen.toml is the documented default: it parses to exactly the struct defaults.
    @Test func shippedConfigIsTheDefaults() throws {
        let config = try ConfigLoader.load(path: ConfigTestSupport.shippedConfig.path)
        #expect(config == DaemonConfig())
        // Spot checks that the comparison above compares what we think it does.
        #expect(config.ingest.map(\.endpoint) == ["tcp://127.0.0.1:7001"])
        #expect(config.alerts.endpoints == ["tcp://127.0.0.1:7002"])
        #expect(config.storage.database == "./omen.db")
        #expect(config.detector.model.training.learningRate == 3e-3)
    }

    /// The shipped config sets every key that the readers know, so no key goes undocumented.
    @Test func shippedConfigDocumentsEveryKey() throws {
        let text = try String(contentsOf: ConfigTestSupport.shippedConfig, encoding: .utf8)
        let document = try TOMLParser.parse(text, file: "omen.toml")
        func keys(_ name: String) -> Set<String> {
            Set(document.sections.filter { $0.name == name }.flatMap { $0.entries.map(\.key) })
        }
        #expect(keys("daemon") == Set(DaemonConfig.daemonSectionKeys.map(\.name)))
        #expect(keys("storage") == Set(StorageConfig.configKeys.map(\.name)))
        #expect(keys("ingest") == Set(IngestEndpointConfig.configKeys.map(\.name)))
        #expect(keys("alerts") == Set(AlertsConfig.configKeys.map(\.name)))
        #expect(keys("model") == Set(ModelConfig.configKeys.map(\.name)))
        #expect(keys("training") == Set(TrainingConfig.configKeys.map(\.name)))
        #expect(keys("learning") == Set(LearningConfig.configKeys.map(\.name)))
        #expect(keys("episodes") == Set(EpisodeConfig.configKeys.map(\.name)))
        #expect(keys("scoring") == Set(ScoringConfig.configKeys.map(\.name)))
        #expect(keys("feedback") == Set(FeedbackConfig.configKeys.map(\.name)))
        #expect(keys("metrics") == Set(MetricsConfig.configKeys.map(\.name)))
        // [[override]] is documented in a comment block, since it has no default entries.
        let overrideDocs = try #require(text.range(of: "Per-series alerting sensitivity")).upperBound
        for key in SeriesOverride.configKeys.map(\.name) {
            #expect(text[overrideDocs...].contains(key), "override key \(key) is not documented")
        }
    }

    /// An empty file keeps every default.
    @Test func emptyFileKeepsDefaults() throws {
        #expect(try ConfigLoader.parse("", file: "omen.toml") == DaemonConfig())
        #expect(try ConfigLoader.parse("# only a comment\n\n[daemon]\n", file: "omen.toml") == DaemonConfig())
    }

    /// A key left out keeps its default while the keys given are applied.
    @Test func partialTablesKeepOtherDefaults() throws {
        let config = try ConfigLoader.parse("""
            [daemon]
            log_level = "debug"
            shards = 4
            [model]
            cell = "gru"
            hidden = 16
            [training]
            learning_rate = 0.01
            loss = "mse"
            [scoring]
            kind = "dynamic"
            """, file: "omen.toml")
        var expected = DaemonConfig()
        expected.logLevel = .debug
        expected.pipeline.shards = 4
        expected.detector.model.cell = .gru
        expected.detector.model.hiddenSize = 16
        expected.detector.model.training.learningRate = 0.01
        expected.detector.model.training.loss = .mse
        expected.detector.scoring.kind = .dynamic
        #expect(config == expected)
    }

    /// Several [[ingest]] tables make several endpoints, in file order, replacing the built-in default.
    @Test func severalIngestEndpoints() throws {
        let config = try ConfigLoader.parse("""
            [[ingest]]
            endpoint = "tcp://0.0.0.0:7001"
            format = "graphite"

            [[ingest]]
            endpoint = "ipc:///run/omen/ingest"
            mode = "bind"
            format = "influx"
            subscribe = ["cpu", "mem"]
            receive_hwm = 1_000_000

            [[ingest]]
            endpoint = "tcp://metrics.example:5556"
            mode = "connect"
            format = "estp"

            [security]
            allow_insecure = true
            """, file: "omen.toml")
        #expect(config.security.allowInsecure)
        #expect(config.ingest.count == 3)
        #expect(config.ingest.map(\.endpoint) == ["tcp://0.0.0.0:7001", "ipc:///run/omen/ingest", "tcp://metrics.example:5556"])
        #expect(config.ingest.map(\.mode) == [.bind, .bind, .connect])
        #expect(config.ingest.map(\.format) == [.graphite, .influx, .estp])
        #expect(config.ingest[0].subscribe == [""])
        #expect(config.ingest[1].subscribe == ["cpu", "mem"])
        #expect(config.ingest[1].receiveHighWaterMark == 1_000_000)
        #expect(config.ingest[2].receiveHighWaterMark == 10_000)
    }

    /// Durations accept seconds as numbers and strings with ms, s, m, h, d and w, and sums of them.
    @Test(arguments: [
        ("10", 10.0), ("0.5", 0.5), ("\"250ms\"", 0.25), ("\"60s\"", 60), ("\"15m\"", 900), ("\"1h\"", 3600),
        ("\"1.5h\"", 5400), ("\"1d\"", 86_400), ("\"0\"", 0), ("2_000", 2000), ("\"1w\"", 604_800),
        ("\"1h30m\"", 5400),
    ])
    func durations(literal: String, seconds: Double) throws {
        let config = try ConfigLoader.parse("[learning]\nretrain_interval = \(literal)\n", file: "omen.toml")
        #expect(config.detector.learning.retrainInterval == seconds)
    }

    /// The public endpoint helper for CLI flags uses the same grammar as the file.
    @Test func helpersForFlags() {
        #expect(ConfigLoader.endpointProblem("tcp://127.0.0.1:7002") == nil)
        #expect(ConfigLoader.endpointProblem("ipc:///run/omen/alerts") == nil)
        #expect(ConfigLoader.endpointProblem("tcp://[::1]:7002") == nil)
        #expect(ConfigLoader.endpointProblem("tcp://*:*") == nil)
        #expect(ConfigLoader.endpointProblem("127.0.0.1:7002") != nil)
    }

    /// Overrides are read in order and the first glob that matches a series decides its episode settings.
    @Test func overridesByGlob() throws {
        let config = try ConfigLoader.parse("""
            [episodes]
            threshold = 0.95
            close_after = 5

            [[override]]
            series = "web*.cpu.*"
            threshold = 0.999

            [[override]]
            series = "web01.*"
            close_after = 50
            refractory = 7

            [[override]]
            series = "db??.disk"
            threshold = 0.5
            """, file: "omen.toml")
        #expect(config.overrides.map(\.pattern) == ["web*.cpu.*", "web01.*", "db??.disk"])

        let cpu = config.episodeConfig(for: "web01.cpu.user")
        #expect(cpu.threshold == 0.999)
        #expect(cpu.closeAfter == 5) // first match wins: the second rule is not merged in
        #expect(cpu.refractory == 0)

        let mem = config.episodeConfig(for: "web01.mem.used")
        #expect(mem.threshold == 0.95)
        #expect(mem.closeAfter == 50)
        #expect(mem.refractory == 7)

        #expect(config.episodeConfig(for: "db01.disk").threshold == 0.5)
        #expect(config.episodeConfig(for: "db1.disk").threshold == 0.95)
        #expect(config.episodeConfig(for: "app.latency") == config.detector.episodes)
    }

    /// Glob semantics: `*` any run (also empty), `?` exactly one character, the rest literal and whole-key.
    @Test(arguments: [
        ("*", "anything", true), ("*", "", true), ("web*", "web", true), ("web*", "xweb", false),
        ("*.cpu", "a.b.cpu", true), ("*.cpu", "a.cpu.x", false), ("a?c", "abc", true), ("a?c", "ac", false),
        ("a*b*c", "aXbYc", true), ("a*b*c", "aXcYb", false), ("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaa", false),
        ("cpu", "cpu", true), ("cpu", "cpu0", false), ("é?", "éx", true),
    ])
    func globMatching(pattern: String, key: String, matches: Bool) {
        #expect(SeriesOverride(pattern: pattern).matches(key) == matches)
    }

    /// Float fields are rounded once from the decimal text, so they equal the Swift Float literal.
    @Test func floatsRoundFromTheDecimal() throws {
        let config = try ConfigLoader.parse("""
            [training]
            learning_rate = 1e-4
            epsilon = 1e-7
            beta2 = 0.9999
            dropout = 0.1
            """, file: "omen.toml")
        #expect(config.detector.model.training.learningRate == Float(1e-4))
        #expect(config.detector.model.training.epsilon == Float(1e-7))
        #expect(config.detector.model.training.beta2 == Float(0.9999))
        #expect(config.detector.model.training.dropout == Float(0.1))
    }

    /// Re-priming more points than the window holds is clamped to the window rather than rejected.
    @Test func reprimePointsClampedToWindow() throws {
        let config = try ConfigLoader.parse("[learning]\nwindow = 600\nreprime_points = 100000\n", file: "omen.toml")
        #expect(config.detector.learning.reprimePoints == 600)
    }

    /// A missing file is an error that names the file and says it does not exist.
    @Test func missingFileIsAnError() throws {
        let path = "/nonexistent-\(getpid())/omen.toml"
        #expect {
            _ = try ConfigLoader.load(path: path)
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.kind == .unreadable && error.line == nil && error.description.hasPrefix(path + ": ")
                && error.description.contains("does not exist")
        }
    }

    /// Errors from a real file name the path as given, the line and the key.
    @Test func fileErrorsNameThePath() throws {
        let dir = try ConfigTestSupport.makeTempDirectory("config")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("omen.toml")
        try "# comment\n\n[episodes]\nthreshold = 2\n".write(to: file, atomically: true, encoding: .utf8)
        #expect {
            _ = try ConfigLoader.load(path: file.path)
        } throws: { error in
            (error as? ConfigError)?.description
                == "\(file.path):4: episodes.threshold: must be a number greater than 0 and at most 1, got 2"
        }
    }

    /// A file that is not UTF-8 is rejected with a sentence, not decoded with replacement characters.
    @Test func invalidUTF8IsAnError() throws {
        let dir = try ConfigTestSupport.makeTempDirectory("config")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("omen.toml")
        try Data([0x5B, 0x64, 0x61, 0x65, 0x6D, 0x6F, 0x6E, 0x5D, 0x0A, 0xFF, 0xFE]).write(to: file)
        #expect {
            _ = try ConfigLoader.load(path: file.path)
        } throws: { error in
            (error as? ConfigError)?.kind == .unreadable && "\(error)".contains("UTF-8")
        }
    }

    /// The exact message shape: FILE:LINE: KEY: reason, with the allowed range and the offending value.
    @Test func errorMessageShape() {
        let error = expectError("[daemon]\nshards = 2\n\n[learning]\nwindow = \"big\"\n")
        #expect(error?.description == "omen.toml:5: learning.window: must be an integer between 64 and 1000000, got \"big\"")
        #expect(error?.kind == .wrongType)
        #expect(error?.line == 5)
        #expect(error?.key == "learning.window")
    }

    /// A reload applies log level, episodes and overrides, and names the changed tables that need a restart.
    @Test func reloadAppliesOnlyReloadableSettings() throws {
        let running = DaemonConfig()
        let edited = try ConfigLoader.parse("""
            [daemon]
            log_level = "debug"
            shards = 2
            [episodes]
            threshold = 0.9
            [[override]]
            series = "db*"
            threshold = 0.5
            [model]
            hidden = 8
            """, file: "omen.toml")
        let reload = running.reloaded(with: edited)
        #expect(reload.config.logLevel == .debug)
        #expect(reload.config.detector.episodes.threshold == 0.9)
        #expect(reload.config.overrides == edited.overrides)
        #expect(reload.config.pipeline.shards == 0)
        #expect(reload.config.detector.model.hiddenSize == 32)
        #expect(reload.restartRequired == ["daemon", "model"])
        #expect(running.reloaded(with: running) == ConfigReload(config: running, restartRequired: []))
    }

    /// Flags applied after loading are checked by `validate`, with the flag as the error's label.
    @Test func validateChecksFlagOverrides() {
        var config = DaemonConfig()
        config.ingest = [IngestEndpointConfig(endpoint: "localhost:7001")]
        #expect {
            try ConfigLoader.validate(config, file: "--ingest")
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.kind == .badEndpoint && error.line == nil && error.description.hasPrefix("--ingest: ingest.endpoint: ")
        }
        config.ingest = []
        #expect(throws: ConfigError.self) { try ConfigLoader.validate(config, file: "--ingest") }
        #expect(throws: Never.self) { try ConfigLoader.validate(DaemonConfig(), file: "defaults") }
    }
}

/// One bad config and the error it must produce.
struct BadConfigCase: Sendable, CustomTestStringConvertible {
    var text: String
    var line: Int?
    var key: String?
    var kind: ConfigError.Kind
    /// A fragment the reason must contain (the allowed range, the choices, the hint).
    var reason: String

    var testDescription: String { "\(kind) at \(line.map(String.init) ?? "-"): \(key ?? "-")" }
}

@Suite("Config errors")
struct ConfigErrorTests {
    static let cases: [BadConfigCase] = [
        // Types and ranges.
        .init(text: "[model]\nhidden = 0", line: 2, key: "model.hidden", kind: .outOfRange, reason: "must be an integer between 1 and 1024, got 0"),
        .init(text: "[training]\nepochs = 2.5", line: 2, key: "training.epochs", kind: .wrongType, reason: "integer between 1 and 10000, got 2.5"),
        .init(text: "[training]\nlearning_rate = 0", line: 2, key: "training.learning_rate", kind: .outOfRange, reason: "greater than 0 and at most 1, got 0"),
        .init(text: "[training]\ndropout = 1", line: 2, key: "training.dropout", kind: .outOfRange, reason: "at least 0 and less than 1, got 1"),
        .init(text: "[training]\nclip_norm = nan", line: 2, key: "training.clip_norm", kind: .outOfRange, reason: "between 0 and 1000000, got nan"),
        .init(text: "[learning]\nexclude_anomalies = \"yes\"", line: 2, key: "learning.exclude_anomalies", kind: .wrongType, reason: "must be true or false, got \"yes\""),
        .init(text: "[storage]\ndatabase = 3", line: 2, key: "storage.database", kind: .wrongType, reason: "must be a string, got 3"),
        .init(text: "[storage]\ndatabase = \"\"", line: 2, key: "storage.database", kind: .badValue, reason: "must not be empty"),
        .init(text: "[alerts]\nsend_hwm = 3000000000", line: 2, key: "alerts.send_hwm", kind: .outOfRange, reason: "between 0 and 2147483647"),
        .init(text: "[model]\nseed = -1", line: 2, key: "model.seed", kind: .outOfRange, reason: "between 0 and 9223372036854775807, got -1"),
        // Choices list the allowed values.
        .init(text: "[model]\ncell = \"lsmt\"", line: 2, key: "model.cell", kind: .badChoice, reason: "must be one of \"lstm\", \"gru\", \"rnn\", got \"lsmt\""),
        .init(text: "[daemon]\nlog_level = \"verbose\"", line: 2, key: "daemon.log_level", kind: .badChoice, reason: "\"trace\", \"debug\", \"info\""),
        .init(text: "[training]\nloss = \"nll\"", line: 2, key: "training.loss", kind: .badChoice, reason: "\"mse\", \"gaussian_nll\""),
        .init(text: "[scoring]\nkind = 3", line: 2, key: "scoring.kind", kind: .wrongType, reason: "\"residual\", \"calibrated\""),
        .init(text: "[[ingest]]\nendpoint = \"tcp://127.0.0.1:7001\"\nformat = \"csv\"", line: 3, key: "ingest.format", kind: .badChoice, reason: "\"auto\", \"graphite\""),
        // Durations.
        .init(text: "[storage]\nflush_interval = \"fast\"", line: 2, key: "storage.flush_interval", kind: .badDuration, reason: "a duration between 1ms and 1m"),
        .init(text: "[storage]\nflush_interval = \"2m\"", line: 2, key: "storage.flush_interval", kind: .outOfRange, reason: "got \"2m\""),
        .init(text: "[daemon]\nstats_interval = true", line: 2, key: "daemon.stats_interval", kind: .wrongType, reason: "\"250ms\", \"60s\", \"15m\", \"1h\""),
        // Endpoints.
        .init(text: "[[ingest]]\nendpoint = \"localhost:7001\"", line: 2, key: "ingest.endpoint", kind: .badEndpoint, reason: "\"tcp://127.0.0.1:7001\""),
        .init(text: "[[ingest]]\nendpoint = \"tcp://127.0.0.1:70000\"", line: 2, key: "ingest.endpoint", kind: .badEndpoint, reason: "port between 1 and 65535"),
        .init(text: "[[ingest]]\nendpoint = \"tcp://127.0.0.1\"", line: 2, key: "ingest.endpoint", kind: .badEndpoint, reason: "port is missing"),
        .init(text: "[[ingest]]\nendpoint = \"udp://127.0.0.1:7001\"", line: 2, key: "ingest.endpoint", kind: .badEndpoint, reason: "tcp://, ipc:// or inproc://"),
        .init(text: "[[ingest]]\nendpoint = \"tcp://::1:7001\"", line: 2, key: "ingest.endpoint", kind: .badEndpoint, reason: "IPv6 host in brackets"),
        .init(text: "[[ingest]]\nendpoint = \"ipc://\"", line: 2, key: "ingest.endpoint", kind: .badEndpoint, reason: "path is missing"),
        .init(text: "[[ingest]]\nendpoint = \"tcp://*:7001\"\nmode = \"connect\"", line: 2, key: "ingest.endpoint", kind: .badEndpoint, reason: "cannot connect to a * wildcard"),
        .init(text: "[[ingest]]\nmode = \"bind\"", line: 1, key: "ingest.endpoint", kind: .missingKey, reason: "needs an endpoint"),
        .init(text: "[[ingest]]\nendpoint = \"tcp://127.0.0.1:7001\"\n[[ingest]]\nendpoint = \"tcp://127.0.0.1:7001\"", line: 4, key: "ingest.endpoint", kind: .duplicate, reason: "bound by two [[ingest]] tables"),
        .init(text: "[[ingest]]\nendpoint = \"tcp://127.0.0.1:7001\"\nsubscribe = []", line: 3, key: "ingest.subscribe", kind: .badValue, reason: "at least 1 string"),
        .init(text: "[alerts]\nendpoints = [\"tcp://127.0.0.1:7001\"]", line: 2, key: "alerts.endpoints", kind: .inconsistent, reason: "also an [[ingest]] endpoint"),
        .init(text: "[alerts]\nendpoints = [\n  \"tcp://127.0.0.1:7002\",\n  \"nonsense\",\n]", line: 4, key: "alerts.endpoints", kind: .badEndpoint, reason: "got \"nonsense\""),
        .init(text: "[alerts]\nendpoints = \"tcp://127.0.0.1:7002\"", line: 2, key: "alerts.endpoints", kind: .wrongType, reason: "an array of ZeroMQ endpoints"),
        .init(text: "[alerts]\nendpoints = [\"tcp://127.0.0.1:9\", \"tcp://127.0.0.1:9\"]", line: 2, key: "alerts.endpoints", kind: .duplicate, reason: "twice"),
        // Unknown names, with hints.
        .init(text: "[episodes]\nthreshhold = 0.5", line: 2, key: "episodes.threshhold", kind: .unknownKey, reason: "did you mean threshold?"),
        .init(text: "[training]\nwindow = 100", line: 2, key: "training.window", kind: .unknownKey, reason: "window belongs in [learning]"),
        .init(text: "[modle]\nhidden = 3", line: 1, key: nil, kind: .unknownTable, reason: "did you mean model?"),
        .init(text: "[model.lstm]\nhidden = 3", line: 1, key: nil, kind: .unknownTable, reason: "unknown table [model.lstm]"),
        .init(text: "shards = 2", line: 1, key: "shards", kind: .unknownKey, reason: "belongs in [daemon]"),
        .init(text: "[ingest]\nendpoint = \"tcp://127.0.0.1:7001\"", line: 1, key: nil, kind: .syntax, reason: "write [[ingest]]"),
        .init(text: "[[daemon]]\nshards = 1", line: 1, key: nil, kind: .syntax, reason: "write [daemon]"),
        .init(text: "[[override]]\nseries = \"a*\"\nthreshhold = 0.5", line: 3, key: "override.threshhold", kind: .unknownKey, reason: "did you mean threshold?"),
        // Duplicates.
        .init(text: "[model]\nhidden = 8\nhidden = 16", line: 3, key: "model.hidden", kind: .duplicate, reason: "already set on line 2"),
        .init(text: "[model]\n[storage]\n[model]", line: 3, key: "model", kind: .duplicate, reason: "already defined on line 1"),
        // Overrides.
        .init(text: "[[override]]\nthreshold = 0.5", line: 1, key: "override.series", kind: .missingKey, reason: "needs a series glob"),
        .init(text: "[[override]]\nseries = \"web*\"", line: 1, key: "override", kind: .missingKey, reason: "sets none of threshold"),
        .init(text: "[[override]]\nseries = \"web*\"\nthreshold = 1.5", line: 3, key: "override.threshold", kind: .outOfRange, reason: "greater than 0 and at most 1, got 1.5"),
        .init(text: "[[override]]\nseries = \"\"\nthreshold = 0.5", line: 2, key: "override.series", kind: .badValue, reason: "must not be empty"),
        // Cross-field checks point at the key that breaks them.
        .init(text: "[learning]\nwarmup_points = 3000", line: 2, key: "learning.warmup_points", kind: .inconsistent, reason: "at most learning.window (2000)"),
        .init(text: "[learning]\nwindow = 100\nwarmup_points = 50\n[training]\nsequence_length = 16\nbatch_size = 8", line: 6, key: "training.batch_size", kind: .inconsistent, reason: "8 × 16 = 128"),
        .init(text: "[training]\nsequence_length = 400", line: 2, key: "training.sequence_length", kind: .inconsistent, reason: "at most learning.warmup_points (300)"),
        .init(text: "[learning]\nwindow = 200", line: 2, key: "learning.warmup_points", kind: .inconsistent, reason: "at most learning.window (200), got 300"),
        // TOML syntax.
        .init(text: "[storage]\ndatabase = \"x", line: 2, key: "storage.database", kind: .syntax, reason: "not closed"),
        .init(text: "[alerts]\nendpoints = [\n  \"tcp://127.0.0.1:1\",\n", line: 2, key: "alerts.endpoints", kind: .syntax, reason: "never closed"),
        .init(text: "[alerts]\nendpoints = " + String(repeating: "[", count: 100_000), line: 2, key: "alerts.endpoints", kind: .syntax, reason: "nested more than 32 deep"),
        .init(text: "[model]\nhidden = 8 cell = \"gru\"", line: 2, key: "model.hidden", kind: .syntax, reason: "one key = value per line"),
        .init(text: "[model]\nhidden = { a = 1 }", line: 2, key: "model.hidden", kind: .syntax, reason: "inline tables"),
        .init(text: "[model]\nhidden = 0x20", line: 2, key: "model.hidden", kind: .syntax, reason: "write 0x20 in decimal"),
        .init(text: "[model]\nhidden = 032", line: 2, key: "model.hidden", kind: .syntax, reason: "032 is not a TOML value"),
        .init(text: "[model]\nhidden = 1__0", line: 2, key: "model.hidden", kind: .syntax, reason: "not a TOML value"),
        .init(text: "[storage]\ndatabase = \"a\\qb\"", line: 2, key: "storage.database", kind: .syntax, reason: "unknown escape \\q"),
        .init(text: "[storage]\ndatabase = \"\"\"x\"\"\"", line: 2, key: "storage.database", kind: .syntax, reason: "multi-line strings"),
        .init(text: "[learning]\nexclude_anomalies = True", line: 2, key: "learning.exclude_anomalies", kind: .syntax, reason: "booleans are written true or false"),
        .init(text: "[storage]\ndatabase = omen.db", line: 2, key: "storage.database", kind: .syntax, reason: "strings must be quoted"),
        .init(text: "[learning]\nretrain_interval = 2026-01-01", line: 2, key: "learning.retrain_interval", kind: .syntax, reason: "dates and times are not supported"),
        .init(text: "[model\nhidden = 3", line: 1, key: nil, kind: .syntax, reason: "must end with ]"),
        .init(text: "[model]\nhidden", line: 2, key: "model.hidden", kind: .syntax, reason: "expected = after the key"),
        .init(text: "[model]\nhidden =\n", line: 2, key: "model.hidden", kind: .syntax, reason: "expected a value"),
        .init(text: "\n\n[model]\n# c\n\n\nhidden = 1 2", line: 7, key: "model.hidden", kind: .syntax, reason: "unexpected '2'"),
    ]

    /// Every error path names the file, the line, the key and a reason with the allowed values.
    @Test(arguments: cases)
    func badConfigIsRejected(_ bad: BadConfigCase) {
        guard let error = expectError(bad.text) else { return }
        #expect(error.kind == bad.kind, "\(error)")
        #expect(error.file == "omen.toml")
        #expect(error.line == bad.line, "\(error)")
        #expect(error.key == bad.key, "\(error)")
        #expect(error.reason.contains(bad.reason), "\(error)")
        var prefix = "omen.toml"
        if let line = bad.line { prefix += ":\(line)" }
        prefix += ": "
        if let key = bad.key { prefix += key + ": " }
        #expect(error.description == prefix + error.reason)
    }
}

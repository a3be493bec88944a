#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Detection
import Recurrent

/// Reads `omen.toml` into a `DaemonConfig`: read → clamp → validate. Any mistake stops the start with
/// `FILE:LINE: KEY: reason`; a key left out keeps its default.
public enum ConfigLoader {
    /// Reads and checks the file at `path`. A missing or unreadable file is an error, never a silent default.
    public static func load(path: String) throws(ConfigError) -> DaemonConfig {
        let text = try readFile(path)
        return try parse(text, file: path)
    }

    /// Parses and checks `text`; `file` names it in error messages.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> DaemonConfig {
        let document = try TOMLParser.parse(text, file: file)
        var lines = ConfigLines()
        var config = try readDocument(document, file: file, lines: &lines)
        // A Kafka daemon binds no ZeroMQ ingest unless the file asks for it (then validation refuses the mix).
        if !config.kafka.isEmpty && lines["ingest[0].endpoint"] == nil { config.ingest = [] }
        clamp(&config)
        try validate(config, file: file, lines: lines)
        return config
    }

    /// Checks a configuration that was changed after loading (e.g. by `--ingest`, `--alerts`, `--database`,
    /// `--log-level`), so a bad flag stops the start like a bad file does. `file` labels the errors.
    public static func validate(_ config: DaemonConfig, file: String) throws(ConfigError) {
        try validate(config, file: file, lines: ConfigLines())
    }

    /// A sentence saying why `endpoint` is not a usable ZeroMQ endpoint (`tcp://host:port`, `ipc://path`,
    /// `inproc://name`), or nil when it is; for CLI flags such as `omen tail --endpoint`.
    public static func endpointProblem(_ endpoint: String) -> String? {
        EndpointSyntax.problem(with: endpoint)
    }

    // MARK: - Read

    /// A section of omen.toml: its name, whether it is `[[array]]`, and how it fills the config.
    private struct Section {
        let name: String
        let isArray: Bool
        /// Key names, for "did you mean" and "that key lives in [x]" hints.
        let keyNames: [String]
        let read: (inout DaemonConfig, TOMLSection, _ index: Int, inout ConfigLines, String) throws(ConfigError) -> Void
    }

    private static func table<Root>(_ name: String, _ field: WritableKeyPath<DaemonConfig, Root>,
                                    _ keys: [ConfigKey<Root>]) -> Section {
        Section(name: name, isArray: false, keyNames: keys.map(\.name)) {
            (config: inout DaemonConfig, section: TOMLSection, _: Int, lines: inout ConfigLines, file: String) throws(ConfigError) in
            try readTable(section, into: &config[keyPath: field], keys: keys, prefix: name, file: file, lines: &lines)
        }
    }

    private static var sections: [Section] {
        [
            table("daemon", \.self, DaemonConfig.daemonSectionKeys),
            table("storage", \.storage, StorageConfig.configKeys),
            table("limits", \.limits, LimitsConfig.configKeys),
            Section(name: "ingest", isArray: true, keyNames: IngestEndpointConfig.configKeys.map(\.name)) {
                (config: inout DaemonConfig, section: TOMLSection, index: Int, lines: inout ConfigLines, file: String) throws(ConfigError) in
                // The file's endpoints replace the built-in default rather than adding to it.
                if index == 0 { config.ingest = [] }
                var endpoint = IngestEndpointConfig(endpoint: "")
                let prefix = "ingest[\(index)]"
                try readTable(section, into: &endpoint, keys: IngestEndpointConfig.configKeys, prefix: prefix,
                              file: file, lines: &lines, errorPrefix: "ingest")
                guard lines[prefix + ".endpoint"] != nil else {
                    throw ConfigError(kind: .missingKey, file: file, line: section.line, key: "ingest.endpoint",
                                      reason: "every [[ingest]] table needs an endpoint, e.g. endpoint = \"tcp://127.0.0.1:7001\"")
                }
                config.ingest.append(endpoint)
            },
            Section(name: "kafka", isArray: true, keyNames: KafkaConfig.configKeys.map(\.name)) {
                (config: inout DaemonConfig, section: TOMLSection, index: Int, lines: inout ConfigLines, file: String) throws(ConfigError) in
                var kafka = KafkaConfig(brokers: "")
                let prefix = "kafka[\(index)]"
                try readTable(section, into: &kafka, keys: KafkaConfig.configKeys, prefix: prefix,
                              file: file, lines: &lines, errorPrefix: "kafka")
                config.kafka.append(kafka)
            },
            table("alerts", \.alerts, AlertsConfig.configKeys),
            table("security", \.security, SecurityConfig.configKeys),
            table("clock", \.clock, ClockConfig.configKeys),
            table("model", \.detector.model, ModelConfig.configKeys),
            table("training", \.detector.model.training, TrainingConfig.configKeys),
            table("learning", \.detector.learning, LearningConfig.configKeys),
            table("episodes", \.detector.episodes, EpisodeConfig.configKeys),
            table("scoring", \.detector.scoring, ScoringConfig.configKeys),
            table("feedback", \.detector.feedback, FeedbackConfig.configKeys),
            table("metrics", \.metrics, MetricsConfig.configKeys),
            Section(name: "override", isArray: true, keyNames: SeriesOverride.configKeys.map(\.name)) {
                (config: inout DaemonConfig, section: TOMLSection, index: Int, lines: inout ConfigLines, file: String) throws(ConfigError) in
                var override = SeriesOverride(pattern: "")
                let prefix = "override[\(index)]"
                try readTable(section, into: &override, keys: SeriesOverride.configKeys, prefix: prefix,
                              file: file, lines: &lines, errorPrefix: "override")
                guard lines[prefix + ".series"] != nil else {
                    throw ConfigError(kind: .missingKey, file: file, line: section.line, key: "override.series",
                                      reason: "every [[override]] table needs a series glob, e.g. series = \"web*.cpu.*\"")
                }
                guard override.threshold != nil || override.closeAfter != nil || override.refractory != nil else {
                    throw ConfigError(kind: .missingKey, file: file, line: section.line, key: "override",
                                      reason: "sets none of threshold, close_after, refractory; add one or remove the table")
                }
                config.overrides.append(override)
            },
        ]
    }

    private static func readDocument(_ document: TOMLDocument, file: String, lines: inout ConfigLines) throws(ConfigError) -> DaemonConfig {
        var config = DaemonConfig()
        let known = sections
        var arrayCounts: [String: Int] = [:]
        for section in document.sections {
            if section.path.isEmpty {
                if let entry = section.entries.first {
                    let home = known.first { $0.keyNames.contains(entry.key) }.map { " (it belongs in [\($0.name)])" } ?? ""
                    throw ConfigError(kind: .unknownKey, file: file, line: entry.line, key: entry.key,
                                      reason: "keys must be inside a table such as [daemon]\(home)")
                }
                continue
            }
            let name = section.name
            guard let spec = known.first(where: { $0.name == name }) else {
                let names = known.map { $0.isArray ? "[[\($0.name)]]" : "[\($0.name)]" }.joined(separator: ", ")
                let hint = suggestion(for: name, among: known.map(\.name)).map { "did you mean \($0)? " } ?? ""
                throw ConfigError(kind: .unknownTable, file: file, line: section.line, key: nil,
                                  reason: "unknown table \(section.isArrayElement ? "[[\(name)]]" : "[\(name)]"); \(hint)known tables: \(names)")
            }
            if spec.isArray != section.isArrayElement {
                let right = spec.isArray ? "[[\(name)]]" : "[\(name)]"
                let why = spec.isArray ? "there can be several" : "there is only one"
                throw ConfigError(kind: .syntax, file: file, line: section.line, key: nil,
                                  reason: "write \(right): \(why)")
            }
            let index = arrayCounts[name, default: 0]
            arrayCounts[name] = index + 1
            do {
                try spec.read(&config, section, index, &lines, file)
            } catch where error.kind == .unknownKey {
                throw explainUnknownKey(error, in: spec, among: known)
            }
        }
        return config
    }

    /// Adds to an unknown-key error the nearest key of the table and, when the key exists elsewhere, its table.
    private static func explainUnknownKey(_ error: ConfigError, in spec: Section, among known: [Section]) -> ConfigError {
        var error = error
        let key = String((error.key ?? "").split(separator: ".").last ?? "")
        var reason = "unknown key in [\(spec.isArray ? "[\(spec.name)]" : spec.name)]"
        if let elsewhere = known.first(where: { $0.name != spec.name && $0.keyNames.contains(key) }) {
            reason += "; \(key) belongs in \(elsewhere.isArray ? "[[\(elsewhere.name)]]" : "[\(elsewhere.name)]")"
        } else if let near = suggestion(for: key, among: spec.keyNames) {
            reason += "; did you mean \(near)?"
        }
        reason += " (known keys: \(spec.keyNames.joined(separator: ", ")))"
        error.reason = reason
        return error
    }

    // MARK: - Clamp

    /// Soft limits that need no error: re-priming more points than the window holds is the whole window.
    /// Clamps and checks a configuration whose detector part was set after loading (`omen replay`'s settings).
    static func checkDetector(_ config: inout DaemonConfig, file: String) throws(ConfigError) {
        clamp(&config)
        try validate(config, file: file, lines: ConfigLines())
    }

    private static func clamp(_ config: inout DaemonConfig) {
        config.detector.learning.reprimePoints = min(config.detector.learning.reprimePoints, config.detector.learning.window)
    }

    // MARK: - Validate

    private static func validate(_ config: DaemonConfig, file: String, lines: ConfigLines) throws(ConfigError) {
        func fail(_ kind: ConfigError.Kind, _ key: String, lineOf lineKeys: [String], _ reason: String) -> ConfigError {
            ConfigError(kind: kind, file: file, line: lineKeys.lazy.compactMap { lines[$0] }.first, key: key, reason: reason)
        }

        // Ingest: at least one endpoint, each well-formed, no endpoint bound twice.
        if config.ingest.isEmpty && config.kafka.isEmpty {
            throw fail(.missingKey, "ingest", lineOf: [], "at least one [[ingest]] endpoint is needed, e.g. endpoint = \"tcp://127.0.0.1:7001\"")
        }
        try KafkaConfig.validate(config.kafka, ingest: config.ingest) { key, reason in
            fail(.inconsistent, key, lineOf: ["kafka[0]" + key.dropFirst("kafka".count)], reason)
        }
        var bound: [String: Int] = [:]
        for (i, ingest) in config.ingest.enumerated() {
            let lineKeys = ["ingest[\(i)].endpoint"]
            if let problem = EndpointSyntax.problem(with: ingest.endpoint) {
                throw fail(.badEndpoint, "ingest.endpoint", lineOf: lineKeys, "\(problem), got \(TOMLValue.quoted(ingest.endpoint))")
            }
            if ingest.mode == .connect, let problem = EndpointSyntax.connectProblem(with: ingest.endpoint) {
                throw fail(.badEndpoint, "ingest.endpoint", lineOf: lineKeys + ["ingest[\(i)].mode"], problem)
            }
            if ingest.subscribe.isEmpty {
                throw fail(.badValue, "ingest.subscribe", lineOf: ["ingest[\(i)].subscribe"],
                           "must list at least one prefix; [\"\"] subscribes to everything")
            }
            if ingest.mode == .bind {
                if bound[ingest.endpoint] != nil {
                    throw fail(.duplicate, "ingest.endpoint", lineOf: lineKeys,
                               "\(TOMLValue.quoted(ingest.endpoint)) is bound by two [[ingest]] tables; an endpoint can be bound once")
                }
                bound[ingest.endpoint] = i
            }
        }

        // Alerts: well-formed, unique, and not one of the ingest endpoints (a second bind would fail at start).
        var seen: Set<String> = []
        for endpoint in config.alerts.endpoints {
            if let problem = EndpointSyntax.problem(with: endpoint) {
                throw fail(.badEndpoint, "alerts.endpoints", lineOf: ["alerts.endpoints"], "\(problem), got \(TOMLValue.quoted(endpoint))")
            }
            if config.alerts.mode == .connect, let problem = EndpointSyntax.connectProblem(with: endpoint) {
                throw fail(.badEndpoint, "alerts.endpoints", lineOf: ["alerts.endpoints", "alerts.mode"], problem)
            }
            if !seen.insert(endpoint).inserted {
                throw fail(.duplicate, "alerts.endpoints", lineOf: ["alerts.endpoints"], "lists \(TOMLValue.quoted(endpoint)) twice")
            }
            if config.ingest.contains(where: { $0.endpoint == endpoint }) {
                throw fail(.inconsistent, "alerts.endpoints", lineOf: ["alerts.endpoints"],
                           "\(TOMLValue.quoted(endpoint)) is also an [[ingest]] endpoint; alerts need their own endpoint")
            }
        }

        try SecurityConfig.validate(config) { fail($0, $1, lineOf: $2, $3) }

        if config.storage.database.isEmpty {
            throw fail(.badValue, "storage.database", lineOf: ["storage.database"], "must name the SQLite file, e.g. \"/var/lib/omen/omen.db\"")
        }

        // Learning and training must fit in the window the series keeps.
        let learning = config.detector.learning
        let training = config.detector.model.training
        if learning.warmupPoints > learning.window {
            throw fail(.inconsistent, "learning.warmup_points", lineOf: ["learning.warmup_points", "learning.window"],
                       "must be at most learning.window (\(learning.window)), got \(learning.warmupPoints): the first training uses the warm-up points")
        }
        if training.sequenceLength > learning.warmupPoints {
            throw fail(.inconsistent, "training.sequence_length", lineOf: ["training.sequence_length", "learning.warmup_points"],
                       "must be at most learning.warmup_points (\(learning.warmupPoints)), got \(training.sequenceLength): the first training needs at least one full sequence")
        }
        if training.sequenceLength > learning.window {
            throw fail(.inconsistent, "training.sequence_length", lineOf: ["training.sequence_length", "learning.window"],
                       "must be at most learning.window (\(learning.window)), got \(training.sequenceLength)")
        }
        if training.batchSize * training.sequenceLength > learning.window {
            throw fail(.inconsistent, "training.batch_size", lineOf: ["training.batch_size", "training.sequence_length", "learning.window"],
                       "batch_size × sequence_length (\(training.batchSize) × \(training.sequenceLength) = \(training.batchSize * training.sequenceLength)) must be at most learning.window (\(learning.window))")
        }

        for (i, override) in config.overrides.enumerated() where override.pattern.isEmpty {
            throw fail(.badValue, "override.series", lineOf: ["override[\(i)].series"], "must be a non-empty glob such as \"web*.cpu.*\"")
        }
    }

    // MARK: - Helpers

    /// The nearest name within two edits, for typo hints.
    static func suggestion(for word: String, among names: [String]) -> String? {
        let scored = names.map { ($0, editDistance(word, $0)) }.filter { $0.1 <= 2 }
        return scored.min { $0.1 < $1.1 }?.0
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    private static func readFile(_ path: String) throws(ConfigError) -> String {
        func failure(_ reason: String) -> ConfigError {
            ConfigError(kind: .unreadable, file: path, line: nil, key: nil, reason: reason)
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            let why = String(cString: strerror(code))
            if code == ENOENT {
                throw failure("the configuration file does not exist (\(why)); check the path given with --config")
            }
            throw failure("cannot open the configuration file: \(why)")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read the configuration file: \(String(cString: strerror(errno)))")
            }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > 16 * 1024 * 1024 { throw failure("is larger than 16 MiB; is this really omen.toml?") }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw failure("is not valid UTF-8 text")
        }
        return text
    }
}

/// Line of each key read from the file, by full dotted key (`learning.window`, `ingest[1].endpoint`), so
/// that cross-field checks can point at a line.
struct ConfigLines {
    private var storage: [String: Int] = [:]

    subscript(key: String) -> Int? {
        get { storage[key] }
        set { storage[key] = newValue }
    }
}

/// Reads one table's entries into `root`; unknown keys are errors. `prefix` keys the line map,
/// `errorPrefix` (default: the same) names the key in messages.
func readTable<Root>(_ section: TOMLSection, into root: inout Root, keys: [ConfigKey<Root>], prefix: String,
                     file: String, lines: inout ConfigLines, errorPrefix: String? = nil) throws(ConfigError) {
    let shown = errorPrefix ?? prefix
    for entry in section.entries {
        let fullKey = shown + "." + entry.key
        guard let key = keys.first(where: { $0.name == entry.key }) else {
            throw ConfigError(kind: .unknownKey, file: file, line: entry.line, key: fullKey, reason: "unknown key")
        }
        try key.apply(&root, entry.value, ValueContext(file: file, key: fullKey))
        lines[prefix + "." + entry.key] = entry.line
    }
}

import Detection
import Recurrent

/// The detector's settings by their omen.toml names, for command lines: `omen replay --value-weight 0.3` sets
/// `[scoring] value_weight` through the file's own key table, so a flag accepts exactly what the file accepts,
/// with the same ranges and the same messages. A key added to a table is a flag at once.
public enum DetectorSettings {
    /// One settable key.
    public struct Key: Sendable {
        /// Its omen.toml table: model, episodes, scoring, learning or training.
        public let table: String
        /// Its omen.toml name, e.g. `value_weight`.
        public let name: String
        /// What it accepts, e.g. "a number in [0, 1]".
        public let expects: String
        /// A true/false key: `--name` alone sets it.
        public let isFlag: Bool

        /// The command-line spelling, e.g. `--value-weight`.
        public var flag: String { "--" + String(name.map { $0 == "_" ? "-" : $0 }) }
    }

    /// The tables in the order an unqualified name is looked up: `--seed` is `[model] seed`, `--training.seed`
    /// the other one.
    private static var tables: [(name: String, keys: [ConfigKey<DetectorConfig>])] {
        [
            ("model", ModelConfig.configKeys.map { $0.lifted(\DetectorConfig.model) }),
            ("episodes", EpisodeConfig.configKeys.map { $0.lifted(\DetectorConfig.episodes) }),
            ("scoring", ScoringConfig.configKeys.map { $0.lifted(\DetectorConfig.scoring) }),
            ("learning", LearningConfig.configKeys.map { $0.lifted(\DetectorConfig.learning) }),
            ("training", TrainingConfig.configKeys.map { $0.lifted(\DetectorConfig.model.training) }),
        ]
    }

    /// Every settable key, table by table.
    public static var keys: [Key] {
        tables.flatMap { table in
            table.keys.map { Key(table: table.name, name: $0.name, expects: $0.expects, isFlag: $0.isFlag) }
        }
    }

    /// Whether `name` (`value-weight`, `value_weight` or `scoring.value-weight`) is a true/false key; throws,
    /// with the nearest name, when it names no key.
    public static func isFlag(_ name: String) throws(ConfigError) -> Bool {
        try find(name).key.isFlag
    }

    /// Applies settings in order to `config`, then checks the result as a loaded file is checked. `name` is a
    /// key as `isFlag(_:)` takes it; `value` is TOML value text (`0.3`, `true`, `"gru"`; a bare word is read as a
    /// string), nil for a flag given alone (true). Errors name the flag: `command line: --history: …`.
    public static func apply(_ settings: [(name: String, value: String?)],
                             to config: DetectorConfig) throws(ConfigError) -> DetectorConfig {
        var daemon = DaemonConfig()
        daemon.detector = config
        for (name, text) in settings {
            let (table, key) = try find(name)
            let flag = "--" + (name.contains(".") ? table + "." : "") + String(key.name.map { $0 == "_" ? "-" : $0 })
            let value: TOMLValue
            if let text {
                value = (try? TOMLParser.parse("k = \(text)", file: "command line").sections.first?.entries.first?.value)
                    ?? TOMLValue(kind: .string(text), line: 1)
            } else if key.isFlag {
                value = TOMLValue(kind: .bool(true), line: 1)
            } else {
                throw ConfigError(kind: .missingKey, file: "command line", line: nil, key: flag,
                                  reason: "needs a value: \(key.expects)")
            }
            do {
                try key.apply(&daemon.detector, value, ValueContext(file: "command line", key: flag))
            } catch {
                var error = error
                error.line = nil  // the value's line is the one-line snippet's, not the user's
                throw error
            }
        }
        try ConfigLoader.checkDetector(&daemon, file: "command line")
        return daemon.detector
    }

    private static func find(_ name: String) throws(ConfigError) -> (table: String, key: ConfigKey<DetectorConfig>) {
        let spelled = String(name.drop(while: { $0 == "-" }).map { $0 == "-" ? "_" : $0 })
        let parts = spelled.split(separator: ".", maxSplits: 1).map(String.init)
        let (tableName, keyName) = parts.count == 2 ? (Optional(parts[0]), parts[1]) : (nil, spelled)
        for table in tables where tableName == nil || tableName == table.name {
            if let key = table.keys.first(where: { $0.name == keyName }) { return (table.name, key) }
        }
        let hint = ConfigLoader.suggestion(for: keyName, among: keys.map(\.name))
            .map { "; did you mean --\(String($0.map { $0 == "_" ? "-" : $0 }))?" } ?? ""
        throw ConfigError(kind: .unknownKey, file: "command line", line: nil, key: "--" + name.drop(while: { $0 == "-" }),
                          reason: "not a detector setting\(hint) (`omen replay --help` lists them)")
    }
}

/// Why a configuration file (or a flag applied over it) was rejected; the daemon must not start with it.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    /// What kind of mistake was made, so that callers and tests need not parse the sentence.
    public enum Kind: String, Sendable, Equatable {
        /// The file could not be read.
        case unreadable
        /// The text is not valid TOML (of the subset Omen reads).
        case syntax
        /// A `[table]` or `[[table]]` that Omen does not know.
        case unknownTable
        /// A key that its table does not have.
        case unknownKey
        /// The same key or table given twice.
        case duplicate
        /// A required key is absent.
        case missingKey
        /// A value of the wrong TOML type.
        case wrongType
        /// A number outside its allowed range.
        case outOfRange
        /// A string that is not one of the allowed choices.
        case badChoice
        /// A duration that cannot be read.
        case badDuration
        /// A ZeroMQ endpoint that is malformed.
        case badEndpoint
        /// A value that is malformed in another way (empty string, bad glob, …).
        case badValue
        /// Values that are valid alone but not together.
        case inconsistent
    }

    public var kind: Kind
    /// The file as given to the loader (or a label such as `--ingest` for flags).
    public var file: String
    /// 1-based line of the offending value, table or key; nil when there is none (a missing file, a default).
    public var line: Int?
    /// Dotted key such as `training.window`, or nil when the error is about the whole file or a table.
    public var key: String?
    /// A sentence saying what is wrong and what is allowed.
    public var reason: String

    public init(kind: Kind, file: String, line: Int?, key: String?, reason: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.key = key
        self.reason = reason
    }

    /// `FILE:LINE: KEY: reason`, the shape compilers use, so editors and operators can jump to the line.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if let key { text += "\(key): " }
        return text + reason
    }
}

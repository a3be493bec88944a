// The ingest wire formats and what parsing a payload reports back.

/// A text format for metric records, one record per line.
public enum WireFormat: String, Sendable, CaseIterable, Codable {
    /// `web01.cpu.user 12.5 1700000000`: key, value, optional timestamp in (fractional) seconds.
    case graphite
    /// InfluxDB line protocol: one series per numeric field, nanosecond timestamps by default.
    case influx
    /// `{"series":"web01.cpu.user","value":12.5,"ts":1700000000.25}`, one object per line.
    case json
    /// `ESTP:host:app:resource:metric: 2026-11-27T10:00:00Z 10 12.5` with optional `^ ' +` type markers.
    case estp
}

/// Unit of InfluxDB line-protocol timestamps (the `precision` of an Influx writer).
public enum InfluxPrecision: String, Sendable, CaseIterable, Codable {
    case nanoseconds = "ns", microseconds = "us", milliseconds = "ms", seconds = "s"

    /// Multiply a timestamp in this unit by this to get seconds.
    var secondsPerUnit: Double {
        switch self {
        case .nanoseconds: return 1e-9
        case .microseconds: return 1e-6
        case .milliseconds: return 1e-3
        case .seconds: return 1
        }
    }

    var unitsPerSecond: Int64 {
        switch self {
        case .nanoseconds: return 1_000_000_000
        case .microseconds: return 1_000_000
        case .milliseconds: return 1_000
        case .seconds: return 1
        }
    }
}

/// Why a record (or, for InfluxDB, one field of a record) was rejected.
public enum RejectReason: String, Sendable, CaseIterable, Codable {
    /// Not valid in its format: missing parts, bad number, trailing garbage, unknown format.
    case malformed
    /// The value is NaN or ±infinity (or JSON `null`).
    case nonFinite
    /// The timestamp is negative, not finite, or more than a day after the time the payload was received.
    case badTimestamp
    /// The series key is longer than 1024 bytes of UTF-8.
    case keyTooLong
    /// The series key is not valid UTF-8.
    case invalidUTF8
    /// The series key holds a control character (NUL, newline, escape, C1 …): a key is data, never control.
    case controlCharacter
}

/// One rejected record, kept so the caller can log a few examples (rate-limited) without logging them all.
public struct ParseErrorSample: Sendable, Equatable, CustomStringConvertible {
    /// 1-based line number inside the payload.
    public var line: Int
    public var reason: RejectReason
    /// The start of the offending line, at most 120 characters (invalid UTF-8 shown as U+FFFD).
    public var excerpt: String

    public init(line: Int, reason: RejectReason, excerpt: String) {
        self.line = line
        self.reason = reason
        self.excerpt = excerpt
    }

    public var description: String { "line \(line): \(reason.rawValue): \(excerpt)" }
}

/// What one `PayloadParser.parse` call did: accepted points, rejections by reason, a few samples.
public struct ParseSummary: Sendable, Equatable {
    /// How many error samples a summary keeps.
    public static let maxSamples = 5

    /// Records (non-blank, non-comment lines) that produced at least one point or were legitimately skipped.
    public var records = 0
    /// Points appended to the output array.
    public var points = 0
    /// Valid input that yields no point by design: InfluxDB string/boolean fields, the first sample of an
    /// ESTP counter or derive (a rate needs two samples), a counter that went backwards (reset), ESTP extension lines.
    public var skipped = 0
    public var malformed = 0
    public var nonFinite = 0
    public var badTimestamp = 0
    public var keyTooLong = 0
    public var invalidUTF8 = 0
    public var controlCharacter = 0
    /// The first `maxSamples` rejections, in payload order.
    public var samples: [ParseErrorSample] = []

    public init() {}

    /// Alias of `points`: what ingest forwards to the shards.
    public var accepted: Int { points }

    /// Every rejection, whatever the reason.
    public var rejected: Int { malformed + nonFinite + badTimestamp + keyTooLong + invalidUTF8 + controlCharacter }

    /// The count for one reason.
    public subscript(reason: RejectReason) -> Int {
        get {
            switch reason {
            case .malformed: return malformed
            case .nonFinite: return nonFinite
            case .badTimestamp: return badTimestamp
            case .keyTooLong: return keyTooLong
            case .invalidUTF8: return invalidUTF8
            case .controlCharacter: return controlCharacter
            }
        }
        set {
            switch reason {
            case .malformed: malformed = newValue
            case .nonFinite: nonFinite = newValue
            case .badTimestamp: badTimestamp = newValue
            case .keyTooLong: keyTooLong = newValue
            case .invalidUTF8: invalidUTF8 = newValue
            case .controlCharacter: controlCharacter = newValue
            }
        }
    }

    /// Adds another summary's counts (e.g. per endpoint over a logging period), keeping the first samples.
    public mutating func merge(_ other: ParseSummary) {
        records += other.records
        points += other.points
        skipped += other.skipped
        for reason in RejectReason.allCases { self[reason] += other[reason] }
        for sample in other.samples where samples.count < Self.maxSamples { samples.append(sample) }
    }
}

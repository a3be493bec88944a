// Reads one series from a CSV file with a header: a timestamp column and a value column.
// Timestamps: `2014-04-01 00:00:00` (NAB; UTC), ISO-8601 (`2014-04-01T00:00:00Z`, fractional seconds,
// `+02:00` offsets), or Unix seconds. The original timestamp text is kept so that output echoes it exactly.

import Detection

/// Why a CSV could not be read as a series.
public enum ReplayError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case empty(path: String)
    case noValueColumn(path: String, wanted: String, header: [String])
    case badTimestamp(path: String, line: Int, text: String)
    case badValue(path: String, line: Int, text: String)
    case wrongFieldCount(path: String, line: Int, expected: Int, found: Int)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .empty(let path):
            return "\(path) has no header line; expected e.g. 'timestamp,value'"
        case .noValueColumn(let path, let wanted, let header):
            return "\(path) has no column '\(wanted)'; its columns are: \(header.joined(separator: ", ")); pick one with --column"
        case .badTimestamp(let path, let line, let text):
            return "\(path):\(line): '\(text)' is not a timestamp; use 'YYYY-MM-DD HH:MM:SS' (UTC), ISO-8601 or Unix seconds"
        case .badValue(let path, let line, let text):
            return "\(path):\(line): '\(text)' is not a number; fix the row or pick another column with --column"
        case .wrongFieldCount(let path, let line, let expected, let found):
            return "\(path):\(line): \(found) fields where the header has \(expected); quoted commas are not supported"
        case .unwritable(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }
}

/// One row of an input series.
public struct SeriesRow: Sendable, Equatable {
    /// The timestamp exactly as written in the file (echoed in the output).
    public var text: String
    /// Seconds since the Unix epoch, UTC.
    public var timestamp: Double
    public var value: Double

    public init(text: String, timestamp: Double, value: Double) {
        self.text = text
        self.timestamp = timestamp
        self.value = value
    }
}

/// Parses a `timestamp,value` CSV (or a named value column) into rows.
public struct CSVSeriesReader: Sendable {
    /// Name of the value column; nil = a column named `value`, else the first column after the timestamp.
    public var column: String?

    public init(column: String? = nil) { self.column = column }

    /// Reads and parses a file.
    public func read(path: String) throws(ReplayError) -> [SeriesRow] {
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(path) } catch { throw .unreadable(path: path, reason: error.description) }
        return try parse(bytes: bytes, name: path)
    }

    /// Parses CSV text already in memory; `name` is used in error messages.
    public func parse(text: String, name: String = "input") throws(ReplayError) -> [SeriesRow] {
        try parse(bytes: Array(text.utf8), name: name)
    }

    public func parse(bytes: [UInt8], name: String) throws(ReplayError) -> [SeriesRow] {
        var lines = Self.lines(bytes)
        // A UTF-8 byte-order mark on the header is invisible in editors; ignore it.
        if let first = lines.first, first.starts(with: [0xEF, 0xBB, 0xBF]) { lines[0] = Array(first.dropFirst(3)) }
        guard let headerLine = lines.first(where: { !Self.isBlank($0) }) else { throw .empty(path: name) }
        let header = Self.fields(headerLine).map { Self.unquote(String(decoding: $0, as: UTF8.self)) }
        guard header.count >= 2 || column == nil else {
            throw .noValueColumn(path: name, wanted: column ?? "value", header: header)
        }
        let lowered = header.map { $0.lowercased() }
        let tsNames = ["timestamp", "time", "ts", "date", "datetime"]
        let tsIndex = lowered.firstIndex(where: { tsNames.contains($0) }) ?? 0
        let valueIndex: Int
        if let column {
            guard let i = header.firstIndex(of: column) ?? lowered.firstIndex(of: column.lowercased()) else {
                throw .noValueColumn(path: name, wanted: column, header: header)
            }
            valueIndex = i
        } else if let i = lowered.firstIndex(of: "value") {
            valueIndex = i
        } else if let i = header.indices.first(where: { $0 != tsIndex }) {
            valueIndex = i
        } else {
            throw .noValueColumn(path: name, wanted: "value", header: header)
        }

        var rows: [SeriesRow] = []
        rows.reserveCapacity(lines.count)
        var seenHeader = false
        for (n, line) in lines.enumerated() {
            if Self.isBlank(line) { continue }
            if !seenHeader { seenHeader = true; continue }
            let lineNumber = n + 1
            let f = Self.fields(line)
            guard f.count == header.count else {
                throw .wrongFieldCount(path: name, line: lineNumber, expected: header.count, found: f.count)
            }
            let tsText = Self.unquote(String(decoding: f[tsIndex], as: UTF8.self))
            guard let ts = Timestamps.parse(tsText) else {
                throw .badTimestamp(path: name, line: lineNumber, text: tsText)
            }
            let vText = Self.unquote(String(decoding: f[valueIndex], as: UTF8.self))
            guard let v = Double(vText.trimmingSpaces()), v.isFinite else {
                throw .badValue(path: name, line: lineNumber, text: vText)
            }
            rows.append(SeriesRow(text: tsText, timestamp: ts, value: v))
        }
        return rows
    }

    /// Splits on LF, dropping a trailing CR (CRLF files).
    static func lines(_ bytes: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var start = 0
        for i in 0...bytes.count where i == bytes.count || bytes[i] == 0x0A {
            var end = i
            if end > start && bytes[end - 1] == 0x0D { end -= 1 }
            if i < bytes.count || end > start { out.append(Array(bytes[start..<end])) }
            start = i + 1
        }
        return out
    }

    static func fields(_ line: [UInt8]) -> [ArraySlice<UInt8>] {
        line.split(separator: 0x2C, omittingEmptySubsequences: false)
    }

    static func isBlank(_ line: [UInt8]) -> Bool { line.allSatisfy { $0 == 0x20 || $0 == 0x09 } }

    static func unquote(_ s: String) -> String {
        let t = s.trimmingSpaces()
        if t.count >= 2, t.hasPrefix("\""), t.hasSuffix("\"") { return String(t.dropFirst().dropLast()) }
        return t
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// Timestamp parsing without Foundation's locale-dependent formatters.
public enum Timestamps {
    /// Seconds since the Unix epoch for an ISO-8601 time or date (Detection's `ISO8601`; NAB's
    /// `2014-04-01 00:00:00` is one), or a number of seconds.
    public static func parse(_ text: String) -> Double? {
        let trimmed = text.trimmingSpaces()
        if let seconds = ISO8601.parse(trimmed) { return seconds }
        guard let v = Double(trimmed), v.isFinite else { return nil }
        return v
    }

    /// `YYYY-MM-DD HH:MM` (UTC) for axis labels.
    static func format(_ t: Double) -> String {
        let secs = Int((t).rounded(.down))
        var days = secs / 86_400
        var rem = secs % 86_400
        if rem < 0 { rem += 86_400; days -= 1 }
        let (y, m, d) = CivilCalendar.date(days: days)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d)) \(two(rem / 3600)):\(two(rem % 3600 / 60))"
    }
}

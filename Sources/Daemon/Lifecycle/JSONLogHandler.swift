#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import Messaging

/// How the daemon writes its log lines (`omen run --log-format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's stream format: `TIME LEVEL label : key=value … message`.
    case text
    /// One JSON object per line (journald, log shippers): `ts`, `level`, `logger`, `msg`, then the metadata keys.
    case json
}

/// Writes one JSON object per line to standard error at the shared, reloadable level.
///
/// `{"ts":"2026-12-06T17:00:00.123Z","level":"info","logger":"omen","msg":"omen started","version":"0.13.0",…}`:
/// metadata keys become top-level keys (a key that collides with `ts`, `level`, `logger` or `msg` is written as
/// `meta_KEY`); nested metadata becomes nested objects and arrays. Each line is one `write(2)`.
public struct JSONLogHandler: LogHandler {
    private let label: String
    private let shared: ReloadableLogLevel
    public var metadata: Logger.Metadata = [:]

    public init(label: String, level: ReloadableLogLevel) {
        self.label = label
        shared = level
    }

    public var logLevel: Logger.Level {
        get { shared.level }
        set { shared.set(newValue) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        guard event.level >= shared.level else { return }
        let line = Self.line(timestamp: Date().timeIntervalSince1970, level: event.level, label: label,
                             message: event.message.description,
                             metadata: metadata.merging(event.metadata ?? [:]) { _, new in new })
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(STDERR_FILENO, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }

    static let reserved: Set<String> = ["ts", "level", "logger", "msg"]

    /// One log line, ending in a newline; keys in a stable (sorted) order after the four fixed ones.
    static func line(timestamp: Double, level: Logger.Level, label: String, message: String,
                     metadata: Logger.Metadata) -> String {
        var out = "{\"ts\":" + quote(iso8601(timestamp)) + ",\"level\":" + quote(level.rawValue)
            + ",\"logger\":" + quote(label) + ",\"msg\":" + quote(message)
        for key in metadata.keys.sorted() {
            guard let value = metadata[key] else { continue }
            let name = reserved.contains(key) ? "meta_" + key : key
            out += "," + quote(name) + ":" + render(value)
        }
        return out + "}\n"
    }

    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return quote(s)
        case .stringConvertible(let c): return quote(c.description)
        case .array(let items): return "[" + items.map(render).joined(separator: ",") + "]"
        case .dictionary(let d):
            return "{" + d.keys.sorted().compactMap { k in d[k].map { quote(k) + ":" + render($0) } }
                .joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal, escaped as the alert codec escapes (one rule for the JSON Omen writes).
    static func quote(_ s: String) -> String {
        var bytes: [UInt8] = []
        appendJSONString(s, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `2026-12-06T17:00:00.123Z`.
    static func iso8601(_ t: Double) -> String {
        var seconds = time_t(t.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int((t - t.rounded(.down)) * 1000)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis)
    }
}

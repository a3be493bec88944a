/// The self-metrics listener: `GET /metrics` (Prometheus text format) and `GET /health`.
public struct MetricsConfig: Sendable, Equatable {
    /// `HOST:PORT` the HTTP listener binds (`[::1]:9464` for IPv6); empty turns it off.
    public var listen: String = "127.0.0.1:9464"

    public init() {}

    /// Host and port of `listen`, or nil when it is empty (off).
    public var address: (host: String, port: Int)? {
        guard !listen.isEmpty else { return nil }
        return Self.parse(listen)
    }

    /// `HOST:PORT` or `[IPv6]:PORT` with a port of 1-65535; nil when malformed.
    public static func parse(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else { return nil }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { return nil }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return nil
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else { return nil }
        return (host, port)
    }
}

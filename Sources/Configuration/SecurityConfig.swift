// `[security]`: CURVE on every socket the daemon opens, and who may connect.

/// CURVE authentication and encryption for ingest and alerts (ZeroMQ certificates, see `omen keys generate`).
public struct SecurityConfig: Sendable, Equatable {
    /// The daemon's secret certificate (`NAME.cert_secret`, mode 0600); nil = plain TCP (the default).
    public var secretKey: String?
    /// Directory of allowed clients' public certificates (producers and alert subscribers alike); re-read on SIGHUP.
    public var allowedClients: String?
    /// Permit plain (unauthenticated, unencrypted) TCP on an address other than loopback.
    public var allowInsecure = false

    public init() {}

    /// True when the sockets are CURVE servers.
    public var isEnabled: Bool { secretKey != nil }
}

extension DaemonConfig {
    /// TCP endpoints of this configuration that are not on a loopback address (`127.0.0.0/8`, `[::1]`,
    /// `localhost`): what plain TCP would expose to the network. ipc:// and inproc:// are local.
    public var nonLoopbackEndpoints: [String] {
        (ingest.map(\.endpoint) + alerts.endpoints).filter { !EndpointSyntax.isLocal($0) }
    }
}

extension EndpointSyntax {
    /// True for ipc://, inproc:// and tcp:// on a loopback host; false for `*`, `0.0.0.0`, any other host or
    /// interface name.
    static func isLocal(_ endpoint: String) -> Bool {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return true }
        var host = endpoint[endpoint.index(endpoint.startIndex, offsetBy: 6)..<colon]
        // tcp://SOURCE;HOST:PORT connects from a source address: the destination is what matters.
        if let semicolon = host.lastIndex(of: ";") { host = host[host.index(after: semicolon)...] }
        if host == "localhost" || host == "[::1]" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127"
            && parts.allSatisfy { part in
                !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber)
            }
    }
}

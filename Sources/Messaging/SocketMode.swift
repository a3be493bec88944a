/// Which end of a ZeroMQ connection a socket takes: it binds the endpoint, or connects to a socket bound there.
/// The one spelling for the config file (`mode = "connect"`), `omen run` (`connect:ENDPOINT`) and the
/// `--bind`/`--connect` flags of `omen publish` and `omen tail`.
public enum SocketMode: String, Sendable, CaseIterable {
    case bind, connect

    /// Reads `connect:ENDPOINT` or `bind:ENDPOINT`; a plain endpoint takes `plain`.
    public static func split(_ spec: String, plain: SocketMode = .bind) -> (mode: SocketMode, endpoint: String) {
        for mode in allCases where spec.hasPrefix(mode.rawValue + ":") {
            return (mode, String(spec.dropFirst(mode.rawValue.count + 1)))
        }
        return (plain, spec)
    }
}

extension ZMQSocket {
    /// Binds `endpoint` or connects to it, as `mode` says.
    public func attach(_ endpoint: String, mode: SocketMode) throws(ZMQError) {
        switch mode {
        case .bind: try bind(endpoint)
        case .connect: try connect(endpoint)
        }
    }
}

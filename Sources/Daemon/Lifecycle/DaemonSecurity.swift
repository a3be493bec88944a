// The daemon's CURVE setup: its certificate, the allow-list of client keys, and one ZAP handler per ZeroMQ context
// (libzmq asks the handler of the server socket's own context; the daemon has one context for ingest and one for
// alerts). Everything is checked before a socket exists, so a wrong key file stops the start (exit 78) rather
// than leaving a socket that accepts anyone.
import Configuration
import Detection
import Foundation
import Logging
import Messaging
import Synchronization

/// CURVE for every socket of the daemon, from `[security]`.
final class DaemonSecurity: Sendable {
    /// The ZAP domain the daemon's server sockets announce.
    static let domain = "omen"

    let certificate: CurveCertificate
    let allowList: CurveAllowList
    let directory: String
    private let logger: Logger
    private let handlers = Mutex<[ZAPHandler]>([])
    /// Refusals since the last warning, and when that was (monotonic seconds): a key-guessing flood logs once per 10 s.
    private let refusals = Mutex<(count: Int, lastLog: Double)>((0, -.infinity))

    private init(certificate: CurveCertificate, allowList: CurveAllowList, directory: String, logger: Logger) {
        self.certificate = certificate
        self.allowList = allowList
        self.directory = directory
        self.logger = logger
    }

    /// Loads the server certificate and the allowed clients; nil when `[security]` is off. Throws (exit 78) when
    /// libzmq lacks CURVE or a key file is missing, unreadable, malformed or readable by others.
    static func load(_ config: SecurityConfig, logger: Logger) throws(DaemonError) -> DaemonSecurity? {
        guard let secretKey = config.secretKey, let directory = config.allowedClients else { return nil }
        guard CurveCertificate.isSupported else {
            throw .security(
                "[security] needs CURVE, and this libzmq has none (zmq_has(\"curve\") is false); install a libzmq built with libsodium"
            )
        }
        let certificate: CurveCertificate
        let allowed: (certificates: [(name: String, key: CurveKey)], skipped: [String])
        do {
            certificate = try CurveCertificate.load(path: secretKey, requireSecret: true)
            allowed = try CurveAllowList.loadDirectory(directory)
        } catch {
            throw .security("[security]: \(error)")
        }
        let security = DaemonSecurity(
            certificate: certificate, allowList: CurveAllowList(allowed.certificates),
            directory: directory, logger: logger)
        security.report(allowed, reloaded: false)
        return security
    }

    /// Binds a ZAP handler on `context`; call before any socket of that context binds or connects.
    func startHandler(on context: ZMQContext) throws(DaemonError) {
        let handler = ZAPHandler(context: context, allowList: allowList, domain: Self.domain) { [self] decision in
            record(decision)
        }
        do {
            try handler.start()
        } catch {
            throw .security("cannot start the CURVE authenticator (ZAP handler): \(error)")
        }
        handlers.withLock { $0.append(handler) }
    }

    /// Re-reads the allowed-clients directory (SIGHUP); a directory that cannot be read keeps the current list.
    func reload() {
        do {
            let allowed = try CurveAllowList.loadDirectory(directory)
            allowList.replace(with: allowed.certificates)
            report(allowed, reloaded: true)
        } catch {
            logger.error("allowed CURVE clients not reloaded; the current list stays", metadata: ["error": "\(error)"])
        }
    }

    /// Authentications so far, for the stats line: accepted handshakes per client, and refusals.
    var counts: (accepted: [String: Int], denied: Int) { allowList.counts }

    private func report(_ allowed: (certificates: [(name: String, key: CurveKey)], skipped: [String]), reloaded: Bool) {
        var metadata: Logger.Metadata = [
            "directory": "\(directory)", "clients": "\(allowed.certificates.map(\.name).joined(separator: ", "))",
            "server_public_key": "\(certificate.publicKey.z85)",
        ]
        if !allowed.skipped.isEmpty { metadata["skipped"] = "\(allowed.skipped.joined(separator: "; "))" }
        logger.info(
            reloaded ? "CURVE allowed clients reloaded" : "CURVE on: only allowed clients may connect",
            metadata: metadata)
        if allowed.certificates.isEmpty {
            logger.warning(
                "no allowed CURVE clients: nobody can publish points or subscribe to alerts until a public certificate is added and omen reloaded",
                metadata: ["directory": "\(directory)"])
        }
    }

    /// Logs an accepted client at info (each connection handshake) and refusals at warning, at most every 10 s.
    private func record(_ decision: ZAPDecision) {
        if let client = decision.client {
            logger.info(
                "CURVE client authenticated",
                metadata: [
                    "client": "\(SeriesKeyText.escaped(client))", "key": "\(decision.key?.z85 ?? "")",
                    "address": "\(decision.address)",
                ])
            return
        }
        let now = ProcessInfo.processInfo.systemUptime
        let due: Int? = refusals.withLock { state in
            state.count += 1
            guard now - state.lastLog >= 10 else { return nil }
            let n = state.count
            state = (0, now)
            return n
        }
        if let due {
            logger.warning(
                "CURVE client refused (key not in allowed_clients)",
                metadata: [
                    "key": "\(decision.key?.z85 ?? "none: not CURVE")", "address": "\(decision.address)",
                    "refused_since_last_log": "\(due)",
                ])
        }
    }
}

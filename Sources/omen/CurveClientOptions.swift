import ArgumentParser
import Messaging

/// `--client-key` / `--server-key`: connect to a daemon whose sockets require CURVE (`[security]`).
struct CurveClientOptions: ParsableArguments {
    @Option(
        name: .customLong("client-key"),
        help: ArgumentHelp(
            "This client's secret certificate (NAME.cert_secret from `omen keys generate`, mode 0600); "
                + "its public half must be in the daemon's allowed_clients directory.", valueName: "file"))
    var clientKey: String?

    @Option(
        name: .customLong("server-key"),
        help: ArgumentHelp("The daemon's public certificate (its secret_key's NAME.cert).", valueName: "file"))
    var serverKey: String?

    func validate() throws {
        if (clientKey == nil) != (serverKey == nil) {
            throw ValidationError(
                "--client-key and --server-key go together: CURVE needs this client's key pair and the daemon's public key."
            )
        }
    }

    /// The client key pair and the server's public key, or nil for a plain connection.
    func load() throws(CurveError) -> (client: CurveCertificate, server: CurveKey)? {
        guard let clientKey, let serverKey else { return nil }
        guard CurveCertificate.isSupported else { throw .unsupported("zmq_has(\"curve\") is false") }
        let client = try CurveCertificate.load(path: clientKey, requireSecret: true)
        let server = try CurveCertificate.load(path: serverKey, requireSecret: false)
        return (client, server.publicKey)
    }

    /// Makes `socket` a CURVE client when the keys were given (before connect or bind).
    func apply(to socket: ZMQSocket) throws {
        if let keys = try load() { try socket.makeCurveClient(keys.client, server: keys.server) }
    }
}

import ArgumentParser
import Foundation
import Messaging

/// `omen keys`: CURVE certificates for `[security]`.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make CURVE key pairs for authenticated, encrypted ingest and alerts.",
        subcommands: [Generate.self])

    /// `omen keys generate NAME`.
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate",
            abstract: "Write a new CURVE key pair as NAME.cert (public) and NAME.cert_secret (secret, mode 0600).",
            discussion: """
                The files are ZeroMQ/CZMQ certificates. For the daemon: point [security] secret_key at the server's \
                NAME.cert_secret and give clients its NAME.cert (--server-key). For each client (a producer, \
                `omen tail`): copy its NAME.cert into the allowed_clients directory (then `systemctl reload omen`) \
                and give the client its NAME.cert_secret (--client-key). Existing files are never overwritten.
                """)

        @Argument(help: "Name of the key pair (the files' base name and the certificate's metadata name).")
        var name: String

        @Option(help: ArgumentHelp("Directory to write the two files into.", valueName: "dir"))
        var directory = "."

        func validate() throws {
            guard !name.isEmpty, !name.contains("/"), !name.hasPrefix("."),
                !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
            else {
                throw ValidationError("NAME must be a plain file name (no /, no leading dot, no control characters).")
            }
        }

        func run() throws {
            do {
                let pair = try CurveCertificate.generate(name: name)
                let paths = try pair.save(directory: directory, name: name)
                print("public key \(pair.publicKey.z85)")
                print("wrote \(paths.publicPath) (public: allowed_clients directory, or --server-key)")
                print("wrote \(paths.secretPath) (secret, mode 0600: [security] secret_key, or --client-key)")
            } catch {
                writeStandardError("omen keys generate: \(error)")
                throw ExitCode.failure
            }
        }
    }
}

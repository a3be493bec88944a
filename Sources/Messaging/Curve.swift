// CURVE keys and certificates in the ZeroMQ/CZMQ format.
//
// CURVE encrypts and authenticates the connection, but a CURVE server alone accepts any client key
// (zeromq/libzmq#2594): only a ZAP handler with an allow-list authorises (see `ZAPHandler`). Certificates are
// the files CZMQ's zcert writes (ZPL text, rfc.zeromq.org/spec:4), so keys made by `omen keys generate`, by
// CZMQ's tools or by hand work alike:
//
//     #   ZeroMQ CURVE **Secret** Certificate
//     metadata
//         name = "web01"
//     curve
//         public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
//         secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
import CZeroMQ
import Foundation

/// A CURVE key (public or secret): 32 bytes, written as 40 characters of Z85.
public struct CurveKey: Sendable, Hashable, CustomStringConvertible {
    /// The 40-character Z85 text.
    public let z85: String

    /// Accepts exactly 40 characters of Z85 that decode to 32 bytes; nil otherwise.
    public init?(z85 text: String) {
        guard text.utf8.count == 40, Self.decode(text) != nil else { return nil }
        z85 = text
    }

    /// The key from its 32 raw bytes (a ZAP request carries the client's public key so).
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        guard bytes.withUnsafeBufferPointer({ zmq_z85_encode(&text, $0.baseAddress, 32) }) != nil else { return nil }
        z85 = String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The 32 raw bytes.
    public var bytes: [UInt8] { Self.decode(z85) ?? [] }

    /// The Z85 text (a public key is not a secret; never print a secret one).
    public var description: String { z85 }

    private static func decode(_ text: String) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 32)
        let ok = text.withCString { zmq_z85_decode(&out, $0) } != nil
        return ok ? out : nil
    }
}

/// A CURVE key pair, or a public key alone.
public struct CurveCertificate: Sendable, Equatable {
    public var publicKey: CurveKey
    /// Present in a secret certificate (`NAME.cert_secret`), absent in a public one (`NAME.cert`).
    public var secretKey: CurveKey?
    /// `metadata/name`, when the file has one.
    public var name: String?

    public init(publicKey: CurveKey, secretKey: CurveKey? = nil, name: String? = nil) {
        self.publicKey = publicKey
        self.secretKey = secretKey
        self.name = name
    }

    /// A new random key pair (`zmq_curve_keypair`).
    public static func generate(name: String? = nil) throws(CurveError) -> CurveCertificate {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else {
            throw .unsupported("zmq_curve_keypair failed: \(String(cString: zmq_strerror(zmq_errno())))")
        }
        func key(_ text: [CChar]) throws(CurveError) -> CurveKey {
            guard let k = CurveKey(z85: String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            else {
                throw .unsupported("zmq_curve_keypair returned a malformed key")
            }
            return k
        }
        return CurveCertificate(publicKey: try key(publicText), secretKey: try key(secretText), name: name)
    }

    /// Whether this libzmq was built with CURVE (libsodium or tweetnacl).
    public static var isSupported: Bool { zmq_has("curve") == 1 }

    // MARK: - Files

    /// The certificate text in CZMQ's format; with `includeSecret` the secret key too.
    public func text(includeSecret: Bool) -> String {
        var lines = [
            includeSecret
                ? "#   ZeroMQ CURVE **Secret** Certificate\n#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."
                : "#   ZeroMQ CURVE Public Certificate\n#   Exchange securely, or use a secure mechanism to verify the contents\n#   of this file after exchange. Store public certificates in your home\n#   directory, in the .curve subdirectory."
        ]
        lines.append("")
        lines.append("metadata")
        if let name { lines.append("    name = \"\(Self.quoted(name))\"") }
        lines.append("curve")
        lines.append("    public-key = \"\(publicKey.z85)\"")
        if includeSecret, let secretKey { lines.append("    secret-key = \"\(secretKey.z85)\"") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads a certificate file's text: `curve/public-key` is required, `curve/secret-key` and `metadata/name`
    /// are optional. `source` names the file in errors.
    public static func parse(_ text: String, source: String) throws(CurveError) -> CurveCertificate {
        var section = ""
        var values: [String: String] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let indented = trimmed.startIndex != line.startIndex
            if !indented {
                section = String(trimmed.prefix(while: { $0 != " " && $0 != "=" }))
                continue
            }
            guard let equals = trimmed.firstIndex(of: "=") else {
                // A nested section name (ZPL allows deeper levels); nothing Omen reads lives there.
                continue
            }
            let name = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            var value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            } else if value.hasPrefix("'"), value.hasSuffix("'"), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            if section == "curve" && (name == "public-key" || name == "secret-key") && CurveKey(z85: value) == nil {
                throw .malformed(source, "line \(number + 1): \(name) must be 40 characters of Z85 (a CURVE key)")
            }
            values[section + "/" + name] = value
        }
        guard let publicText = values["curve/public-key"], let publicKey = CurveKey(z85: publicText) else {
            throw .malformed(source, "has no curve/public-key; is it a ZeroMQ CURVE certificate?")
        }
        let secretKey = values["curve/secret-key"].flatMap { CurveKey(z85: $0) }
        return CurveCertificate(publicKey: publicKey, secretKey: secretKey, name: values["metadata/name"])
    }

    /// Reads a certificate file. With `requireSecret`, the file must hold the secret key and be readable by its
    /// owner alone (mode 0600 or 0400): a secret key others can read is not secret.
    public static func load(path: String, requireSecret: Bool) throws(CurveError) -> CurveCertificate {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .unreadable(path, String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .unreadable(path, "not a regular file") }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path, "\(error.localizedDescription)")
        }
        guard data.count <= 64 * 1024, let text = String(data: data, encoding: .utf8) else {
            throw .malformed(path, "is not a small UTF-8 text file")
        }
        let certificate = try parse(text, source: path)
        if requireSecret && certificate.secretKey == nil {
            throw .malformed(
                path, "holds no curve/secret-key: give the secret certificate (NAME.cert_secret), not the public one")
        }
        if requireSecret && info.st_mode & 0o077 != 0 {
            throw .tooOpen(path, String(info.st_mode & 0o777, radix: 8))
        }
        return certificate
    }

    /// Writes `NAME.cert` (public, mode 0644) and `NAME.cert_secret` (mode 0600, created so: never readable by
    /// others, not even for a moment) in `directory`; refuses to overwrite either.
    public func save(directory: String, name: String) throws(CurveError) -> (publicPath: String, secretPath: String) {
        let base = (directory as NSString).appendingPathComponent(name)
        let publicPath = base + ".cert"
        let secretPath = base + ".cert_secret"
        for path in [publicPath, secretPath] where FileManager.default.fileExists(atPath: path) {
            throw .exists(path)
        }
        try Self.write(text(includeSecret: true), to: secretPath, mode: 0o600)
        try Self.write(text(includeSecret: false), to: publicPath, mode: 0o644)
        return (publicPath, secretPath)
    }

    private static func write(_ text: String, to path: String, mode: mode_t) throws(CurveError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .unwritable(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        // The umask may have narrowed the mode; make it exactly what was asked.
        _ = fchmod(fd, mode)
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return Glibc.write(fd, base + written, raw.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unwritable(path, String(cString: strerror(errno)))
            }
            written += n
        }
    }

    private static func quoted(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0 != "\"" && $0.value >= 0x20 }.map(Character.init))
    }
}

/// Why CURVE keys could not be used, as a sentence an operator can act on.
public enum CurveError: Error, Equatable, CustomStringConvertible {
    case unsupported(String)
    case unreadable(String, String)
    case tooOpen(String, String)
    case malformed(String, String)
    case exists(String)
    case unwritable(String, String)

    public var description: String {
        switch self {
        case .unsupported(let why):
            return
                "this libzmq has no CURVE support (\(why)); install a libzmq built with libsodium (Debian's libzmq5 is)"
        case .unreadable(let path, let why): return "cannot read the key file \(path): \(why)"
        case .tooOpen(let path, let mode):
            return "the secret key file \(path) is readable by others (mode \(mode)); run: chmod 600 \(path)"
        case .malformed(let path, let why): return "the key file \(path) \(why)"
        case .exists(let path): return "\(path) already exists; remove it or choose another name"
        case .unwritable(let path, let why): return "cannot write \(path): \(why)"
        }
    }
}

extension ZMQSocket {
    /// Makes this socket a CURVE server with `certificate`'s secret key; clients are then authorised by the ZAP
    /// handler of `domain` (set before bind or connect; the server role is independent of which side binds).
    public func makeCurveServer(_ certificate: CurveCertificate, domain: String) throws(ZMQError) {
        guard let secret = certificate.secretKey else {
            throw ZMQError(code: EINVAL, operation: "CURVE server without a secret key")
        }
        try setIntOption(ZMQ_CURVE_SERVER, 1, name: "ZMQ_CURVE_SERVER")
        try setBytesOption(ZMQ_CURVE_SECRETKEY, secret.bytes, name: "ZMQ_CURVE_SECRETKEY")
        try setBytesOption(ZMQ_ZAP_DOMAIN, Array(domain.utf8), name: "ZMQ_ZAP_DOMAIN")
    }

    /// Makes this socket a CURVE client of the server whose public key is `server`, with the key pair `client`
    /// (set before connect).
    public func makeCurveClient(_ client: CurveCertificate, server: CurveKey) throws(ZMQError) {
        guard let secret = client.secretKey else {
            throw ZMQError(code: EINVAL, operation: "CURVE client without a secret key")
        }
        try setBytesOption(ZMQ_CURVE_SERVERKEY, server.bytes, name: "ZMQ_CURVE_SERVERKEY")
        try setBytesOption(ZMQ_CURVE_PUBLICKEY, client.publicKey.bytes, name: "ZMQ_CURVE_PUBLICKEY")
        try setBytesOption(ZMQ_CURVE_SECRETKEY, secret.bytes, name: "ZMQ_CURVE_SECRETKEY")
    }
}

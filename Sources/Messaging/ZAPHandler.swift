// The ZAP handler: who may talk to a CURVE server socket.
//
// libzmq asks `inproc://zeromq.zap.01` of the server socket's context about every CURVE handshake (ZeroMQ RFC 27,
// ZAP). Without a handler bound there, libzmq 4.3 accepts every client key; so the handler is bound before any
// server socket and lives as long as the context. It answers 200 only for keys in the allow-list.
import CZeroMQ
import Foundation
import Synchronization

/// The client public keys allowed to connect, replaceable while running (SIGHUP), with a count per key.
public final class CurveAllowList: Sendable {
    private struct State {
        var allowed: [CurveKey: String] = [:]
        /// By the client's name when it was accepted (a later reload may drop the key; its count stays).
        var accepted: [String: Int] = [:]
        var denied = 0
    }

    private let state = Mutex(State())

    /// An allow-list of `certificates` (public keys; a name from the file's metadata or its file name).
    public init(_ certificates: [(name: String, key: CurveKey)] = []) {
        replace(with: certificates)
    }

    /// Replaces the allowed keys; the counts so far are kept.
    public func replace(with certificates: [(name: String, key: CurveKey)]) {
        state.withLock { s in
            s.allowed = Dictionary(certificates.map { ($0.key, $0.name) }, uniquingKeysWith: { first, _ in first })
        }
    }

    /// The name of an allowed key (and counts the connection), or nil (and counts the refusal).
    public func authorise(_ key: CurveKey) -> String? {
        state.withLock { s in
            guard let name = s.allowed[key] else {
                s.denied += 1
                return nil
            }
            s.accepted[name, default: 0] += 1
            return name
        }
    }

    /// Allowed keys now.
    public var count: Int { state.withLock { $0.allowed.count } }

    /// Handshakes accepted per allowed client (by name) and handshakes refused, since start.
    public var counts: (accepted: [String: Int], denied: Int) {
        state.withLock { s in (s.accepted, s.denied) }
    }

    /// Reads every certificate in `directory` (files whose name starts with a dot are ignored). A file that is
    /// not a certificate is reported in `skipped`, not fatal: one stray file must not lock every client out.
    public static func loadDirectory(
        _ directory: String
    ) throws(CurveError)
        -> (certificates: [(name: String, key: CurveKey)], skipped: [String])
    {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            throw .unreadable(directory, "cannot list the allowed-clients directory: \(error.localizedDescription)")
        }
        var certificates: [(name: String, key: CurveKey)] = []
        var skipped: [String] = []
        for file in names where !file.hasPrefix(".") {
            let path = (directory as NSString).appendingPathComponent(file)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                continue
            }
            do {
                let certificate = try CurveCertificate.load(path: path, requireSecret: false)
                var name = certificate.name ?? file
                for suffix in [".cert_secret", ".cert"] where name == file && name.hasSuffix(suffix) {
                    name = String(name.dropLast(suffix.count))
                }
                certificates.append((name, certificate.publicKey))
            } catch {
                skipped.append("\(file): \(error)")
            }
        }
        return (certificates, skipped)
    }
}

/// One answered ZAP request, for the owner to count and log.
public struct ZAPDecision: Sendable {
    /// The client's public key.
    public var key: CurveKey?
    /// The allowed client's name, nil when refused.
    public var client: String?
    /// The peer address libzmq reported (IP for tcp).
    public var address: String
    public var accepted: Bool { client != nil }
}

/// A thread answering ZAP requests of one context from a `CurveAllowList`. Start it before binding or connecting
/// any CURVE server socket of that context; it stops when the context shuts down.
public final class ZAPHandler: @unchecked Sendable {
    /// The endpoint libzmq sends ZAP requests to (RFC 27).
    public static let endpoint = "inproc://zeromq.zap.01"

    private let context: ZMQContext
    private let allowList: CurveAllowList
    private let domain: String
    private let onDecision: @Sendable (ZAPDecision) -> Void
    private let started = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let startError = Mutex<ZMQError?>(nil)

    /// A handler for CURVE requests of `domain` on `context`; `onDecision` runs on the handler thread per request.
    public init(
        context: ZMQContext, allowList: CurveAllowList, domain: String,
        onDecision: @escaping @Sendable (ZAPDecision) -> Void = { _ in }
    ) {
        self.context = context
        self.allowList = allowList
        self.domain = domain
        self.onDecision = onDecision
    }

    /// Starts the thread; returns once the REP socket is bound, or throws why it could not be.
    public func start() throws(ZMQError) {
        let thread = Thread { [self] in
            run()
            done.signal()
        }
        thread.name = "omen-zap"
        thread.start()
        started.wait()
        if let error = startError.withLock({ $0 }) { throw error }
    }

    /// Waits (bounded) for the thread to end after the context was shut down.
    public func join(timeout: Double) -> Bool {
        done.wait(timeout: .now() + timeout) == .success
    }

    private func run() {
        let socket: ZMQSocket
        do {
            socket = try ZMQSocket(context: context, type: .rep)
            try socket.setLinger(milliseconds: 0)
            try socket.bind(Self.endpoint)
        } catch {
            startError.withLock { $0 = error }
            started.signal()
            return
        }
        started.signal()
        let buffer = ZMQMessageBuffer(initialCapacity: 1024)
        while true {
            do {
                guard try socket.receive(into: buffer) > 0 else { continue }
                let reply = answer(buffer.frames)
                try socket.send(frames: reply)
            } catch {
                // ETERM: the context is shutting down. Anything else: a REP socket out of step cannot recover
                // safely, and without a handler libzmq would accept everyone, so the owner must stop.
                break
            }
        }
        socket.close()
    }

    /// The six reply frames for one request (RFC 27): version, request id, status code, text, user id, metadata.
    func answer(_ frames: [[UInt8]]) -> [[UInt8]] {
        func reply(_ code: String, _ text: String, user: String = "") -> [[UInt8]] {
            [
                Array("1.0".utf8), frames.count > 1 ? frames[1] : [], Array(code.utf8), Array(text.utf8),
                Array(user.utf8), [],
            ]
        }
        guard frames.count >= 6, frames[0] == Array("1.0".utf8) else { return reply("500", "bad ZAP request") }
        let address = String(decoding: frames[3], as: UTF8.self)
        guard String(decoding: frames[2], as: UTF8.self) == domain, frames[5] == Array("CURVE".utf8),
            frames.count >= 7, let key = CurveKey(bytes: frames[6])
        else {
            onDecision(ZAPDecision(key: nil, client: nil, address: address))
            return reply("400", "CURVE required")
        }
        guard let client = allowList.authorise(key) else {
            onDecision(ZAPDecision(key: key, client: nil, address: address))
            return reply("400", "key not allowed")
        }
        onDecision(ZAPDecision(key: key, client: client, address: address))
        return reply("200", "OK", user: client)
    }
}

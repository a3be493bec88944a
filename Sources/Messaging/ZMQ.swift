// A thin libzmq wrapper: one context per process, one owner thread per socket.
//
// libzmq sockets are not thread-safe, so `ZMQSocket` is deliberately not `Sendable`: create it on the thread
// that uses it and pass only the (thread-safe) context across threads. Errors are thrown as `ZMQError`, never
// trapped, because the daemon must survive a bad endpoint or a terminated context.
import CZeroMQ
import Foundation

/// A libzmq call failed; `code` is the errno value and the description is libzmq's own text.
public struct ZMQError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The errno value libzmq reported (`ETERM`, `EAGAIN`, `EADDRINUSE`, …).
    public var code: Int32
    /// What was being attempted, e.g. "bind tcp://127.0.0.1:7001".
    public var operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// Captures `zmq_errno()` right after a failed call.
    static func last(_ operation: @autoclosure () -> String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation())
    }

    /// The context was shut down or terminated: the owner should close its sockets and stop.
    public var isTerminated: Bool { code == ETERM }
    /// Nothing to receive (non-blocking call or receive timeout) or a send would block.
    public var isAgain: Bool { code == EAGAIN }
    /// A signal interrupted a blocking call; retrying is safe.
    public var isInterrupted: Bool { code == EINTR }

    public var description: String {
        let text = String(cString: zmq_strerror(code))
        switch code {
        case EADDRINUSE:
            return "\(operation) failed: \(text). Another process already listens there; pick another port or stop it."
        case EINVAL, EPROTONOSUPPORT, ENODEV:
            return "\(operation) failed: \(text). Check the endpoint syntax (e.g. tcp://127.0.0.1:7001, ipc:///run/omen.sock)."
        case ETERM:
            return "\(operation) failed: \(text) (the ZeroMQ context is shutting down)."
        default:
            return "\(operation) failed: \(text) (errno \(code))."
        }
    }
}

/// The socket patterns Omen uses (libzmq 4.3 without the DRAFT API).
public enum ZMQSocketType: Sendable, CaseIterable {
    case pub, sub, xpub, xsub, push, pull, pair, req, rep, dealer, router

    var raw: Int32 {
        switch self {
        case .pub: return ZMQ_PUB
        case .sub: return ZMQ_SUB
        case .xpub: return ZMQ_XPUB
        case .xsub: return ZMQ_XSUB
        case .push: return ZMQ_PUSH
        case .pull: return ZMQ_PULL
        case .pair: return ZMQ_PAIR
        case .req: return ZMQ_REQ
        case .rep: return ZMQ_REP
        case .dealer: return ZMQ_DEALER
        case .router: return ZMQ_ROUTER
        }
    }
}

/// A libzmq context: thread-safe, shared by every socket of the process.
///
/// `shutdown()` may be called from any thread (a signal handler's queue, a service's shutdown hook): every
/// blocking call on its sockets then fails with `ETERM`, and their owners close them. `terminate()` waits until
/// all sockets are closed; it also runs on deinit, which cannot happen while a socket still holds the context.
public final class ZMQContext: @unchecked Sendable {
    // Guarded by `lock`: libzmq's context calls are thread-safe, but the terminated flag must not race.
    private let handle: UnsafeMutableRawPointer
    private let lock = NSLock()
    private var state: State = .running

    private enum State { case running, shutDown, terminated }

    /// Creates a context with `ioThreads` background I/O threads (one is plenty below ~1 GB/s).
    public init(ioThreads: Int = 1) throws(ZMQError) {
        guard let ctx = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        if zmq_ctx_set(ctx, ZMQ_IO_THREADS, Int32(clamping: max(1, ioThreads))) != 0 {
            let error = ZMQError.last("zmq_ctx_set(ZMQ_IO_THREADS)")
            zmq_ctx_term(ctx)
            throw error
        }
        handle = ctx
    }

    deinit { terminate() }

    /// The raw `void *` context, for sockets created on it.
    var rawHandle: UnsafeMutableRawPointer { handle }

    /// True once `shutdown()` or `terminate()` was called.
    public var isShutDown: Bool {
        lock.lock()
        defer { lock.unlock() }
        return state != .running
    }

    /// Makes every blocking call on this context's sockets return `ETERM` at once; safe from any thread.
    public func shutdown() {
        lock.lock()
        defer { lock.unlock() }
        guard state == .running else { return }
        zmq_ctx_shutdown(handle)
        state = .shutDown
    }

    /// Shuts down and waits until every socket of the context is closed; idempotent.
    public func terminate() {
        lock.lock()
        guard state != .terminated else {
            lock.unlock()
            return
        }
        state = .terminated
        lock.unlock()
        // zmq_ctx_term blocks until sockets are closed and may be interrupted by a signal: retry on EINTR.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    /// The libzmq library version, e.g. (4, 3, 4).
    public static var version: (major: Int, minor: Int, patch: Int) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (Int(major), Int(minor), Int(patch))
    }
}

/// Reusable storage for the frames of one received message, so the hot receive path does not allocate.
///
/// Frames stay valid until the next receive into the same buffer.
public final class ZMQMessageBuffer {
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private var used = 0
    private var bounds: [(start: Int, count: Int)] = []
    // zmq_msg_t must not move while libzmq holds it, so it lives on the heap for the buffer's lifetime.
    let message: UnsafeMutablePointer<zmq_msg_t>

    /// Creates a buffer with room for `initialCapacity` bytes; it grows when a larger message arrives.
    public init(initialCapacity: Int = 64 * 1024) {
        capacity = max(64, initialCapacity)
        storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        zmq_msg_init(message)
    }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
        storage.deallocate()
    }

    /// Frames in the last received message (0 before the first receive).
    public var frameCount: Int { bounds.count }

    /// Total payload bytes of the last received message.
    public var byteCount: Int { used }

    /// The bytes of frame `index`, valid until the next receive into this buffer.
    public func frame(_ index: Int) -> UnsafeRawBufferPointer {
        precondition(index >= 0 && index < bounds.count, "frame index \(index) out of range 0..<\(bounds.count)")
        let b = bounds[index]
        return UnsafeRawBufferPointer(start: storage + b.start, count: b.count)
    }

    /// The last frame: by Omen's convention the payload (earlier frames are topics or envelopes).
    public var lastFrame: UnsafeRawBufferPointer {
        bounds.isEmpty ? UnsafeRawBufferPointer(start: nil, count: 0) : frame(bounds.count - 1)
    }

    /// Copies of every frame, for tests and tools where convenience beats speed.
    public var frames: [[UInt8]] { (0..<bounds.count).map { Array(frame($0)) } }

    func reset() {
        used = 0
        bounds.removeAll(keepingCapacity: true)
    }

    func append(_ data: UnsafeRawPointer?, count: Int) {
        if used + count > capacity {
            var newCapacity = capacity * 2
            while newCapacity < used + count { newCapacity *= 2 }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            grown.copyMemory(from: storage, byteCount: used)
            storage.deallocate()
            storage = grown
            capacity = newCapacity
        }
        if count > 0, let data { (storage + used).copyMemory(from: data, byteCount: count) }
        bounds.append((used, count))
        used += count
    }
}

/// One libzmq socket. Not `Sendable`: create it, use it and close it on one thread.
///
/// It holds a strong reference to its context, so the context cannot be terminated under it. Close it
/// explicitly when done (`close()`), because Swift may release an object right after its last use.
public final class ZMQSocket {
    /// The context this socket belongs to.
    public let context: ZMQContext
    /// The pattern this socket was created with.
    public let type: ZMQSocketType
    private var handle: UnsafeMutableRawPointer?

    /// Creates a socket of `type` on `context`.
    public init(context: ZMQContext, type: ZMQSocketType) throws(ZMQError) {
        guard let socket = zmq_socket(context.rawHandle, type.raw) else {
            throw ZMQError.last("create \(type) socket")
        }
        self.context = context
        self.type = type
        self.handle = socket
    }

    deinit { close() }

    /// True until `close()`.
    public var isOpen: Bool { handle != nil }

    private func open(_ operation: @autoclosure () -> String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(code: ENOTSOCK, operation: operation() + " (socket already closed)") }
        return handle
    }

    /// Closes the socket; pending outgoing messages are kept for the LINGER period. Idempotent.
    public func close() {
        guard let handle else { return }
        zmq_close(handle)
        self.handle = nil
    }

    /// Binds to a local endpoint, e.g. `tcp://127.0.0.1:*` for a free port (see `lastEndpoint`).
    public func bind(_ endpoint: String) throws(ZMQError) {
        let socket = try open("bind \(endpoint)")
        if zmq_bind(socket, endpoint) != 0 { throw ZMQError.last("bind \(endpoint)") }
    }

    /// Connects to a remote endpoint; libzmq reconnects in the background if the peer is not there yet.
    public func connect(_ endpoint: String) throws(ZMQError) {
        let socket = try open("connect \(endpoint)")
        if zmq_connect(socket, endpoint) != 0 { throw ZMQError.last("connect \(endpoint)") }
    }

    /// Reports this socket's connection events (`ZMQ_EVENT_…` bits) as messages on `endpoint` (`inproc://…`), for a
    /// PAIR socket connected there to read (see `ConnectionWatch`).
    public func monitor(_ endpoint: String, events: Int32) throws(ZMQError) {
        let socket = try open("monitor \(endpoint)")
        if zmq_socket_monitor(socket, endpoint, events) != 0 { throw ZMQError.last("monitor \(endpoint)") }
    }

    /// Stops listening on an endpoint bound earlier.
    public func unbind(_ endpoint: String) throws(ZMQError) {
        let socket = try open("unbind \(endpoint)")
        if zmq_unbind(socket, endpoint) != 0 { throw ZMQError.last("unbind \(endpoint)") }
    }

    /// Disconnects from an endpoint connected earlier.
    public func disconnect(_ endpoint: String) throws(ZMQError) {
        let socket = try open("disconnect \(endpoint)")
        if zmq_disconnect(socket, endpoint) != 0 { throw ZMQError.last("disconnect \(endpoint)") }
    }

    /// SUB: receive messages whose first frame starts with `prefix` (empty = everything).
    public func subscribe(prefix: String = "") throws(ZMQError) {
        try setBytesOption(ZMQ_SUBSCRIBE, Array(prefix.utf8), name: "ZMQ_SUBSCRIBE")
    }

    /// SUB: removes a subscription added with `subscribe(prefix:)`.
    public func unsubscribe(prefix: String = "") throws(ZMQError) {
        try setBytesOption(ZMQ_UNSUBSCRIBE, Array(prefix.utf8), name: "ZMQ_UNSUBSCRIBE")
    }

    /// Messages queued for receiving before libzmq drops (SUB) or blocks; 0 = unlimited. Set before bind/connect.
    public func setReceiveHighWaterMark(_ messages: Int) throws(ZMQError) {
        try setIntOption(ZMQ_RCVHWM, messages, name: "ZMQ_RCVHWM")
    }

    /// Messages queued for sending before libzmq drops (PUB) or blocks; 0 = unlimited. Set before bind/connect.
    public func setSendHighWaterMark(_ messages: Int) throws(ZMQError) {
        try setIntOption(ZMQ_SNDHWM, messages, name: "ZMQ_SNDHWM")
    }

    /// Largest inbound message in bytes (ZMQ_MAXMSGSIZE, an int64 option); a peer that sends more is disconnected.
    public func setMaximumMessageSize(_ bytes: Int) throws(ZMQError) {
        let socket = try open("set option ZMQ_MAXMSGSIZE")
        var v = Int64(bytes)
        if zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &v, MemoryLayout<Int64>.size) != 0 {
            throw ZMQError.last("set ZMQ_MAXMSGSIZE = \(bytes)")
        }
    }

    /// How long `close()` keeps unsent messages for delivery: -1 = forever, 0 = drop at once.
    public func setLinger(milliseconds: Int) throws(ZMQError) {
        try setIntOption(ZMQ_LINGER, milliseconds, name: "ZMQ_LINGER")
    }

    /// How long a blocking receive waits before failing with `EAGAIN`; -1 = forever.
    public func setReceiveTimeout(milliseconds: Int) throws(ZMQError) {
        try setIntOption(ZMQ_RCVTIMEO, milliseconds, name: "ZMQ_RCVTIMEO")
    }

    /// How long a blocking send waits before failing with `EAGAIN`; -1 = forever.
    public func setSendTimeout(milliseconds: Int) throws(ZMQError) {
        try setIntOption(ZMQ_SNDTIMEO, milliseconds, name: "ZMQ_SNDTIMEO")
    }

    /// Sets any integer socket option (`ZMQ_…` constant from CZeroMQ).
    public func setIntOption(_ option: Int32, _ value: Int, name: String? = nil) throws(ZMQError) {
        let socket = try open("set option \(name ?? String(option))")
        var v = Int32(clamping: value)
        if zmq_setsockopt(socket, option, &v, MemoryLayout<Int32>.size) != 0 {
            throw ZMQError.last("set \(name ?? "option \(option)") = \(value)")
        }
    }

    /// Reads any integer socket option (`ZMQ_…` constant from CZeroMQ).
    public func intOption(_ option: Int32, name: String? = nil) throws(ZMQError) -> Int {
        let socket = try open("get option \(name ?? String(option))")
        var v: Int32 = 0
        var size = MemoryLayout<Int32>.size
        if zmq_getsockopt(socket, option, &v, &size) != 0 { throw ZMQError.last("get \(name ?? "option \(option)")") }
        return Int(v)
    }

    func setBytesOption(_ option: Int32, _ bytes: [UInt8], name: String) throws(ZMQError) {
        let socket = try open("set \(name)")
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(socket, option, $0.baseAddress, $0.count) }
        if rc != 0 { throw ZMQError.last("set \(name)") }
    }

    /// The endpoint last bound or connected, with the real port when bound to `tcp://…:*`.
    public var lastEndpoint: String? {
        guard let handle else { return nil }
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { return nil }
        let bytes = buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }

    /// Whether the message being received has more frames (ZMQ_RCVMORE).
    public var hasMoreFrames: Bool { ((try? intOption(ZMQ_RCVMORE)) ?? 0) != 0 }

    /// Sends one frame; `more` marks that further frames of the same message follow.
    /// Returns false when `dontWait` is set (or a send timeout expired) and the message could not be queued.
    @discardableResult
    public func send(_ frame: UnsafeRawBufferPointer, more: Bool = false, dontWait: Bool = false) throws(ZMQError) -> Bool {
        let socket = try open("send")
        var flags: Int32 = 0
        if more { flags |= ZMQ_SNDMORE }
        if dontWait { flags |= ZMQ_DONTWAIT }
        while true {
            if zmq_send(socket, frame.baseAddress, frame.count, flags) >= 0 { return true }
            let error = ZMQError.last("send")
            if error.isInterrupted { continue }
            if error.isAgain { return false }
            throw error
        }
    }

    /// Sends a multipart message (all frames or none are delivered). Returns false when it would block.
    @discardableResult
    public func send(frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) -> Bool {
        precondition(!frames.isEmpty, "a ZeroMQ message needs at least one frame")
        for (index, frame) in frames.enumerated() {
            let more = index < frames.count - 1
            // Only the first frame may be refused with EAGAIN; later frames of a started message always queue.
            let wait = dontWait && index == 0
            let outcome: Result<Bool, ZMQError> = frame.withUnsafeBytes { bytes in
                do throws(ZMQError) { return .success(try send(bytes, more: more, dontWait: wait)) } catch { return .failure(error) }
            }
            if !(try outcome.get()) { return false }
        }
        return true
    }

    /// Sends a message whose frames are strings (topics, text bodies).
    @discardableResult
    public func send(strings: [String], dontWait: Bool = false) throws(ZMQError) -> Bool {
        try send(frames: strings.map { Array($0.utf8) }, dontWait: dontWait)
    }

    /// Receives every frame of the next message into `buffer` and returns how many frames it had.
    ///
    /// Returns 0 when nothing arrived: `dontWait` was set and the queue was empty, or RCVTIMEO expired.
    /// Throws `ZMQError` with `isTerminated` once the context is shut down.
    @discardableResult
    public func receive(into buffer: ZMQMessageBuffer, dontWait: Bool = false) throws(ZMQError) -> Int {
        let socket = try open("receive")
        buffer.reset()
        var first = true
        while true {
            let flags: Int32 = (first && dontWait) ? ZMQ_DONTWAIT : 0
            let size = zmq_msg_recv(buffer.message, socket, flags)
            if size < 0 {
                let error = ZMQError.last("receive")
                if error.isInterrupted { continue }
                if error.isAgain && first { return 0 }
                throw error
            }
            first = false
            buffer.append(zmq_msg_data(buffer.message), count: Int(size))
            if zmq_msg_more(buffer.message) == 0 { return buffer.frameCount }
        }
    }

    /// Receives the next message as copied frames, or nil when nothing arrived (see `receive(into:)`).
    public func receiveFrames(dontWait: Bool = false) throws(ZMQError) -> [[UInt8]]? {
        let buffer = ZMQMessageBuffer(initialCapacity: 4096)
        return try receive(into: buffer, dontWait: dontWait) == 0 ? nil : buffer.frames
    }

    /// The raw socket handle for `zmq_poll`.
    var rawHandle: UnsafeMutableRawPointer? { handle }
}

// A socket must never cross threads: make any attempt to send one across a concurrency boundary a compile error.
@available(*, unavailable, message: "libzmq sockets are not thread-safe; create the socket on the thread that uses it")
extension ZMQSocket: Sendable {}

/// Namespace for calls that span several sockets.
public enum ZMQ {
    /// Waits until at least one socket is readable, or `timeoutMs` passes (-1 = forever).
    ///
    /// Returns one flag per socket, true when a message can be received without blocking. Throws with
    /// `isTerminated` when the context is shut down from another thread; an interrupting signal returns all false.
    public static func poll(sockets: [ZMQSocket], timeoutMs: Int) throws(ZMQError) -> [Bool] {
        var items = [zmq_pollitem_t]()
        items.reserveCapacity(sockets.count)
        for socket in sockets {
            guard let raw = socket.rawHandle else { throw ZMQError(code: ENOTSOCK, operation: "poll (socket already closed)") }
            items.append(zmq_pollitem_t(socket: raw, fd: -1, events: Int16(ZMQ_POLLIN), revents: 0))
        }
        let rc = items.withUnsafeMutableBufferPointer {
            zmq_poll($0.baseAddress, Int32($0.count), timeoutMs)
        }
        if rc < 0 {
            let error = ZMQError.last("poll")
            if error.isInterrupted { return Array(repeating: false, count: sockets.count) }
            throw error
        }
        return items.map { ($0.revents & Int16(ZMQ_POLLIN)) != 0 }
    }
}

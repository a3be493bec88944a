#if canImport(Glibc)
import Glibc
#endif

/// Why a notification could not be handed to systemd; the daemon logs it and carries on.
public struct SystemdNotifyError: Error, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// sd_notify(3) in pure Swift: each message is one datagram to `$NOTIFY_SOCKET` (a filesystem path, or an
/// abstract socket written `@name`). With no `$NOTIFY_SOCKET` (not started by systemd) every call does nothing,
/// so the daemon can call it unconditionally.
public struct SystemdNotifier: Sendable {
    /// The notify socket from `$NOTIFY_SOCKET`; nil when unset or empty.
    public let socketAddress: String?
    /// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC`, as sd_notify(3) recommends; nil when the
    /// watchdog is off or `$WATCHDOG_PID` names another process.
    public let watchdogInterval: Duration?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the process environment.
    public init() {
        self.init(environment: { name in
            getenv(name).map { String(cString: $0) }
        }, processID: Int(getpid()))
    }

    /// Reads the variables from `environment` (tests pass a dictionary); `processID` is compared with `WATCHDOG_PID`.
    public init(environment: [String: String], processID: Int = Int(getpid())) {
        self.init(environment: { environment[$0] }, processID: processID)
    }

    private init(environment: (String) -> String?, processID: Int) {
        let socket = environment("NOTIFY_SOCKET") ?? ""
        socketAddress = socket.isEmpty ? nil : socket
        var interval: Duration?
        if let text = environment("WATCHDOG_USEC"), let usec = Int64(text), usec > 0 {
            interval = .microseconds(usec / 2)
        }
        if let pidText = environment("WATCHDOG_PID"), !pidText.isEmpty, Int(pidText) != processID {
            interval = nil
        }
        watchdogInterval = interval
    }

    /// True when started by systemd with a notify socket.
    public var isEnabled: Bool { socketAddress != nil }

    /// Startup is complete: sockets bound, database open.
    public func ready() throws(SystemdNotifyError) {
        try send("READY=1")
    }

    /// Shutdown has begun (SIGTERM); systemd waits up to TimeoutStopSec.
    public func stopping() throws(SystemdNotifyError) {
        try send("STOPPING=1")
    }

    /// A reload (SIGHUP) has begun; send `ready()` when it is done.
    public func reloading() throws(SystemdNotifyError) {
        try send("RELOADING=1")
    }

    /// The pipeline is alive; must come more often than `watchdogInterval` × 2.
    public func watchdog() throws(SystemdNotifyError) {
        try send("WATCHDOG=1")
    }

    /// A one-line status for `systemctl status`; line breaks become spaces so they cannot inject assignments.
    public func status(_ text: String) throws(SystemdNotifyError) {
        try send("STATUS=" + String(text.map { $0.isNewline ? " " : $0 }))
    }

    /// Asks for more time during a long start or stop (e.g. checkpointing many series), counted from now.
    public func extendTimeout(seconds: Double) throws(SystemdNotifyError) {
        try send("EXTEND_TIMEOUT_USEC=\(UInt64(max(0, seconds) * 1_000_000))")
    }

    /// Sends newline-separated `KEY=value` assignments as one datagram; a no-op without a notify socket.
    public func send(_ message: String) throws(SystemdNotifyError) {
        guard let address = socketAddress else { return }
        var path = Array(address.utf8)
        let abstract = path.first == UInt8(ascii: "@")
        if abstract {
            path[0] = 0
        } else if path.first != UInt8(ascii: "/") {
            throw SystemdNotifyError("NOTIFY_SOCKET \"\(address)\" is neither an absolute path nor an abstract @name")
        }
        var addr = sockaddr_un()
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        // A path needs room for its terminating NUL; an abstract name is counted by length instead.
        guard path.count <= (abstract ? capacity : capacity - 1) else {
            throw SystemdNotifyError("NOTIFY_SOCKET \"\(address)\" is longer than a Unix socket address allows")
        }
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: path)
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        let length = socklen_t(pathOffset + path.count + (abstract ? 0 : 1))

        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw SystemdNotifyError("cannot create a socket to notify systemd: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let payload = Array(message.utf8)
        while true {
            let sent = payload.withUnsafeBytes { bytes in
                withUnsafePointer(to: &addr) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                        // Never blocks: a notify socket whose reader is behind must not stall the pipeline's heartbeat.
                        sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), sa, length)
                    }
                }
            }
            if sent >= 0 { return }
            if errno == EINTR { continue }
            throw SystemdNotifyError("cannot notify systemd at \(address): \(String(cString: strerror(errno)))")
        }
    }
}

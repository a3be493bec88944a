import Foundation
import Testing
@testable import Daemon

/// A bound AF_UNIX datagram socket standing in for systemd's notify socket.
private final class NotifySocket {
    let fd: Int32
    /// What to put in NOTIFY_SOCKET: a path, or "@name" for an abstract socket.
    let address: String
    private let directory: URL?

    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var path: [UInt8]
        if abstract {
            address = "@omen-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            path = Array(address.utf8)
            path[0] = 0
            directory = nil
        } else {
            let dir = try ConfigTestSupport.makeTempDirectory("notify")
            directory = dir
            address = dir.appendingPathComponent("notify.sock").path
            path = Array(address.utf8)
        }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: path) }
        let length = socklen_t((MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2) + path.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(.init(rawValue: code) ?? .EIO)
        }
    }

    /// The next datagram, waiting at most a second (the send is synchronous, so it is normally already queued).
    func receive() -> String? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 1000) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return n >= 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }

    /// True when nothing is waiting.
    func isEmpty() -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) == 0
    }

    deinit {
        close(fd)
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }
}

@Suite("systemd notify")
struct SystemdNotifierTests {
    /// Each call sends exactly one datagram with the sd_notify assignment, to a filesystem socket.
    @Test func sendsExactBytesToPathSocket() throws {
        let socket = try NotifySocket(abstract: false)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address])
        #expect(notifier.isEnabled)
        try notifier.ready()
        #expect(socket.receive() == "READY=1")
        try notifier.watchdog()
        #expect(socket.receive() == "WATCHDOG=1")
        try notifier.status("ingesting 1234 points/s")
        #expect(socket.receive() == "STATUS=ingesting 1234 points/s")
        try notifier.reloading()
        #expect(socket.receive() == "RELOADING=1")
        try notifier.extendTimeout(seconds: 5)
        #expect(socket.receive() == "EXTEND_TIMEOUT_USEC=5000000")
        try notifier.stopping()
        #expect(socket.receive() == "STOPPING=1")
        #expect(socket.isEmpty())
    }

    /// An abstract socket is written @name in NOTIFY_SOCKET and reached through a leading NUL.
    @Test func sendsToAbstractSocket() throws {
        let socket = try NotifySocket(abstract: true)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address])
        try notifier.send("READY=1\nSTATUS=up")
        #expect(socket.receive() == "READY=1\nSTATUS=up")
    }

    /// A status with line breaks cannot smuggle in another assignment.
    @Test func statusLineBreaksAreFlattened() throws {
        let socket = try NotifySocket(abstract: false)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address])
        try notifier.status("a\nREADY=1\r\nb")
        #expect(socket.receive() == "STATUS=a READY=1 b")
    }

    /// Without NOTIFY_SOCKET (not started by systemd) every call is a silent no-op.
    @Test func noSocketIsANoOp() throws {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isEnabled)
        #expect(notifier.watchdogInterval == nil)
        try notifier.ready()
        try notifier.watchdog()
        try notifier.stopping()
        #expect(!SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]).isEnabled)
    }

    /// A socket that is not there, or a relative path, is reported as an error the daemon can log.
    @Test func unreachableSocketIsAnError() {
        let missing = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent-\(getpid())/notify"])
        #expect(throws: SystemdNotifyError.self) { try missing.ready() }
        let relative = SystemdNotifier(environment: ["NOTIFY_SOCKET": "notify.sock"])
        #expect {
            try relative.ready()
        } throws: { error in
            "\(error)".contains("absolute path")
        }
        let tooLong = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/" + String(repeating: "x", count: 200)])
        #expect(throws: SystemdNotifyError.self) { try tooLong.ready() }
    }

    /// The watchdog interval is half of WATCHDOG_USEC, and off when WATCHDOG_PID names another process.
    @Test func watchdogInterval() {
        let env = ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"]
        #expect(SystemdNotifier(environment: env, processID: 10).watchdogInterval == .seconds(15))
        var mine = env
        mine["WATCHDOG_PID"] = "10"
        #expect(SystemdNotifier(environment: mine, processID: 10).watchdogInterval == .seconds(15))
        var other = env
        other["WATCHDOG_PID"] = "11"
        #expect(SystemdNotifier(environment: other, processID: 10).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "soon"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "0"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "1001"]).watchdogInterval == .microseconds(500))
    }
}

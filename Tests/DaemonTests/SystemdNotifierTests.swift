import Foundation
import Testing
@testable import Daemon

@Suite("systemd notify")
struct SystemdNotifierTests {
    /// Each call sends exactly one datagram with the sd_notify assignment, to a filesystem socket.
    @Test func sendsExactBytesToPathSocket() throws {
        let socket = try SystemdTestNotifySocket(abstract: false)
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
        let socket = try SystemdTestNotifySocket(abstract: true)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address])
        try notifier.send("READY=1\nSTATUS=up")
        #expect(socket.receive() == "READY=1\nSTATUS=up")
    }

    /// A status with line breaks cannot smuggle in another assignment.
    @Test func statusLineBreaksAreFlattened() throws {
        let socket = try SystemdTestNotifySocket(abstract: false)
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

import Daemon
import Foundation
import History
import Messaging
import Testing

/// Locates the `omen` binary built alongside the tests (or `$OMEN_BIN`).
func omenBinary() throws -> URL {
    if let path = ProcessInfo.processInfo.environment["OMEN_BIN"], FileManager.default.isExecutableFile(atPath: path) {
        return URL(fileURLWithPath: path)
    }
    // The test bundle lives in .build*/<config>/; the executable is its sibling.
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("omen")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    for sub in [".build-test/release/omen", ".build/release/omen", ".build/debug/omen"] {
        let candidate = root.appendingPathComponent(sub)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    throw TestFailure("omen binary not found; build it first (make test does) or set OMEN_BIN")
}

/// A failure with a message, for `throw` in test helpers.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A fresh temporary directory, removed by the caller.
func makeTempDir(_ name: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("omen-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// The real `omen` binary as a child process, stderr captured to a file.
final class OmenProcess {
    let process = Process()
    let stderrURL: URL

    /// `standardError` replaces the captured file (e.g. a pipe whose reader a test kills); `stderr` is then empty.
    init(arguments: [String], environment: [String: String] = [:], dir: URL, standardError: FileHandle? = nil) throws {
        process.executableURL = try omenBinary()
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        stderrURL = dir.appendingPathComponent("stderr-\(UInt32.random(in: 0...UInt32.max)).log")
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.standardError = try standardError ?? FileHandle(forWritingTo: stderrURL)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Sends a signal and waits (bounded) for the exit; returns the exit status, or nil on timeout (then kills).
    func stop(signal: Int32 = SIGTERM, timeout: Double = 60) -> Int32? {
        if process.isRunning { kill(process.processIdentifier, signal) }
        return waitForExit(timeout: timeout)
    }

    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Runs the `omen` binary to completion and returns (status, stdout, stderr); bounded by `timeout`.
func runOmen(_ arguments: [String], timeout: Double = 60) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = try omenBinary()
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    // Read while waiting so a large output cannot fill the pipe and block the child.
    let group = DispatchGroup()
    let outBox = DataBox(), errBox = DataBox()
    group.enter()
    DispatchQueue.global().async { outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter()
    DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    _ = group.wait(timeout: .now() + 5)
    return (process.terminationStatus, String(decoding: outBox.data, as: UTF8.self), String(decoding: errBox.data, as: UTF8.self))
}

final class DataBox: @unchecked Sendable {
    var data = Data()
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
func eventually(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}

/// A bound datagram socket standing in for systemd's `$NOTIFY_SOCKET`.
final class NotifyListener {
    let path: String
    private let fd: Int32

    init(dir: URL) throws {
        path = dir.appendingPathComponent("notify.sock").path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw TestFailure("bind(\(path)) failed: errno \(errno)") }
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Datagrams received within `timeout` seconds, until one contains `needle`.
    func waitFor(_ needle: String, timeout: Double) -> [String] {
        var got: [String] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 {
                let s = String(decoding: buffer[0..<n], as: UTF8.self)
                got.append(s)
                if s.contains(needle) { break }
            }
        }
        return got
    }

    deinit {
        close(fd)
        unlink(path)
    }
}

/// Sends `payloads` over one PUB socket: connect, wait out the slow joiner (the first messages after a connect
/// are dropped until the subscription arrives), then send, pausing `pause` µs after every `pauseEvery` payloads.
func publish(_ payloads: [String], to endpoint: String, pauseEvery: Int = 0, pause: useconds_t = 2_000) throws {
    let context = try ZMQContext()
    let pub = try ZMQSocket(context: context, type: .pub)
    try pub.setSendHighWaterMark(0)
    try pub.setLinger(milliseconds: 5000)
    try pub.connect(endpoint)
    defer {
        pub.close()
        context.terminate()
    }
    usleep(300_000)
    for (n, payload) in payloads.enumerated() {
        try pub.send(frames: [Array(payload.utf8)])
        if pauseEvery > 0 && n % pauseEvery == pauseEvery - 1 { usleep(pause) }
    }
}

/// The lines of `rounds` packed into payloads: a payload is closed once it holds `linesPerPayload` lines or more
/// (whole rounds stay together), and the rest makes a last, shorter one.
func batchedPayloads(_ rounds: Range<Int>, linesPerPayload: Int = 99, lines: (Int) -> [String]) -> [String] {
    var payloads: [String] = []
    var batch: [String] = []
    for i in rounds {
        batch += lines(i)
        if batch.count >= linesPerPayload {
            payloads.append(batch.joined(separator: "\n"))
            batch = []
        }
    }
    if !batch.isEmpty { payloads.append(batch.joined(separator: "\n")) }
    return payloads
}

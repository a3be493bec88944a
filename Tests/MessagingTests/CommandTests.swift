import Detection
import Foundation
import Testing
@testable import Messaging

/// The `omen` binary built by `make test` (it sets OMEN_BIN); these tests need it.
let omenBinary = ProcessInfo.processInfo.environment["OMEN_BIN"]

/// Runs `omen` with `arguments`, capturing standard output and error.
func startOmen(_ arguments: [String]) throws -> (Process, Pipe, Pipe) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: omenBinary ?? "omen")
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    return (process, out, err)
}

@Suite(.enabled(if: omenBinary != nil, "set OMEN_BIN to the omen binary (make test does)"))
struct CommandTests {
    /// `omen publish --demo` delivers every generated point, batched, to a bound SUB, and reports its injections.
    @Test func publishDemo() throws {
        let context = try ZMQContext()
        let sub = try ZMQSocket(context: context, type: .sub)
        defer {
            sub.close()
            context.terminate()
        }
        try sub.setReceiveHighWaterMark(0)
        try sub.subscribe()
        try sub.bind("tcp://127.0.0.1:*")
        let endpoint = try #require(sub.lastEndpoint)
        let (process, _, err) = try startOmen(["publish", "--endpoint", endpoint, "--demo", "--points", "30",
                                               "--series", "3", "--batch", "7", "--format", "json"])
        var parser = PayloadParser(format: .json)
        var points: [Point] = []
        var messages = 0
        let buffer = ZMQMessageBuffer()
        try sub.setReceiveTimeout(milliseconds: 15_000)
        while points.count < 90, messages < 100, try sub.receive(into: buffer) > 0 {
            messages += 1
            #expect(parser.parse(buffer.lastFrame, receivedAt: Date().timeIntervalSince1970, into: &points).rejected == 0)
        }
        process.waitUntilExit()
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0)
        #expect(points.count == 90 && messages == 13)
        #expect(Set(points.map(\.key)) == ["demo.sine.0", "demo.walk.1", "demo.constant.2"])
        #expect(log.contains("injected spike on demo.sine.0") && log.contains("sent 90 records in 13 messages"))
    }

    /// `omen tail --series P --count 1` prints the first matching alert as its JSON body and exits 0.
    @Test func tailFiltersAndCounts() throws {
        let context = try ZMQContext()
        let pub = try ZMQSocket(context: context, type: .pub)
        defer {
            pub.close()
            context.terminate()
        }
        try pub.bind("tcp://127.0.0.1:*")
        let endpoint = try #require(pub.lastEndpoint)
        let (process, out, _) = try startOmen(["tail", "--endpoint", endpoint, "--series", "web", "--format", "json",
                                               "--count", "1", "--timeout", "20"])
        let wanted = AlertCodecTests.event(series: "web01.cpu")
        let other = AlertCodecTests.event(series: "db.disk")
        // Resend until tail has joined and exited (bounded: 20 s).
        for _ in 0..<400 where process.isRunning {
            try pub.send(frames: AlertCodec.frames(for: other, id: 1))
            try pub.send(frames: AlertCodec.frames(for: wanted, id: 2))
            usleep(50_000)
        }
        process.waitUntilExit()
        let lines = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        #expect(process.terminationStatus == 0)
        #expect(lines.count == 1)
        let alert = try AlertCodec.decode(topic: AlertCodec.topic(for: wanted), body: lines.first ?? "")
        #expect(alert.matches(Alert(event: wanted, id: 2)))
    }

    /// `omen tail` exits 1 when the requested alerts do not arrive within the timeout.
    @Test func tailTimeout() throws {
        let (process, _, err) = try startOmen(["tail", "--endpoint", "tcp://127.0.0.1:9", "--count", "1", "--timeout", "0.3"])
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("0 of 1 alerts"))
    }
}

import CZeroMQ
import Detection
import Foundation
import Testing
@testable import Messaging

/// A value written by one thread and read by another after a semaphore hand-off.
final class Box<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

@Suite struct ZMQTests {
    /// A PUB bound to a free tcp port reaches a connected SUB with every frame of a multipart message intact.
    @Test func pubSubMultipartRoundTrip() throws {
        let context = try ZMQContext()
        let pub = try ZMQSocket(context: context, type: .pub)
        let sub = try ZMQSocket(context: context, type: .sub)
        defer {
            pub.close()
            sub.close()
            context.terminate()
        }
        try pub.bind("tcp://127.0.0.1:*")
        let endpoint = try #require(pub.lastEndpoint)
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix(":*"))
        try sub.setReceiveHighWaterMark(0)
        try sub.subscribe(prefix: "anomaly/")
        try sub.connect(endpoint)
        let frames: [[UInt8]] = [Array("anomaly/open/x".utf8), [], Array(repeating: 0xAB, count: 200_000)]
        let buffer = ZMQMessageBuffer(initialCapacity: 64)
        var received = 0
        // The slow joiner loses what is sent before the subscription arrives: resend until one gets through.
        for _ in 0..<250 where received == 0 {
            try pub.send(strings: ["other/topic", "ignored"])
            try pub.send(frames: frames)
            if try ZMQ.poll(sockets: [sub], timeoutMs: 20) == [true] {
                received = try sub.receive(into: buffer)
            }
        }
        #expect(received == 3)
        #expect(buffer.frames == frames)
        #expect(Array(buffer.lastFrame) == frames[2])
    }

    /// `shutdown()` from another thread makes a poll blocked forever return with ETERM.
    @Test func shutdownUnblocksPoll() throws {
        let context = try ZMQContext()
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let outcome = Box<String>("still blocked")
        let thread = Thread {
            do {
                let sub = try ZMQSocket(context: context, type: .sub)
                defer { sub.close() }
                try sub.bind("inproc://shutdown-test")
                started.signal()
                _ = try ZMQ.poll(sockets: [sub], timeoutMs: -1)
                outcome.value = "returned without error"
            } catch let error as ZMQError {
                outcome.value = error.isTerminated ? "ETERM" : "\(error)"
            } catch {
                outcome.value = "\(error)"
            }
            finished.signal()
        }
        thread.start()
        #expect(started.wait(timeout: .now() + 10) == .success)
        usleep(50_000)
        context.shutdown()
        #expect(finished.wait(timeout: .now() + 10) == .success)
        #expect(outcome.value == "ETERM")
        context.terminate()
        #expect(context.isShutDown)
    }

    /// A non-blocking receive on an empty socket returns 0 frames, and so does one whose RCVTIMEO expires.
    @Test func emptyReceives() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context: context, type: .pull)
        defer {
            pull.close()
            context.terminate()
        }
        try pull.bind("inproc://empty")
        let buffer = ZMQMessageBuffer()
        #expect(try pull.receive(into: buffer, dontWait: true) == 0)
        try pull.setReceiveTimeout(milliseconds: 1)
        #expect(try pull.receive(into: buffer) == 0)
        #expect(try pull.receiveFrames(dontWait: true) == nil)
        #expect(try ZMQ.poll(sockets: [pull], timeoutMs: 0) == [false])
    }

    /// Binding an endpoint already in use throws an error naming it and saying what to do.
    @Test func bindErrors() throws {
        let context = try ZMQContext()
        let a = try ZMQSocket(context: context, type: .pub)
        let b = try ZMQSocket(context: context, type: .pub)
        defer {
            a.close()
            b.close()
            context.terminate()
        }
        try a.bind("tcp://127.0.0.1:*")
        let endpoint = try #require(a.lastEndpoint)
        let error = try #require(throws: ZMQError.self) { try b.bind(endpoint) }
        #expect(error.code == EADDRINUSE)
        #expect(error.description.contains(endpoint) && error.description.contains("Another process"))
        let bad = try #require(throws: ZMQError.self) { try b.bind("nonsense://x") }
        #expect(bad.description.contains("nonsense://x"))
    }

    /// Every operation on a closed socket throws instead of crashing, and options round-trip while open.
    @Test func closedSocket() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .push)
        try socket.setLinger(milliseconds: 0)
        try socket.setSendHighWaterMark(5)
        #expect(try socket.intOption(ZMQ_SNDHWM) == 5)
        socket.close()
        socket.close()
        #expect(!socket.isOpen && socket.lastEndpoint == nil)
        #expect(throws: ZMQError.self) { try socket.connect("tcp://127.0.0.1:1") }
        #expect(throws: ZMQError.self) { try socket.send(strings: ["x"]) }
        #expect(throws: ZMQError.self) { try socket.receive(into: ZMQMessageBuffer()) }
        context.terminate()
        #expect(ZMQContext.version.major == 4)
    }

    /// Points encoded by one thread's PUSH arrive through a PULL and parse back, many records per message.
    @Test func encodedPointsOverIPC() throws {
        let context = try ZMQContext()
        let path = "ipc://\(NSTemporaryDirectory())omen-msg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let pull = try ZMQSocket(context: context, type: .pull)
        let push = try ZMQSocket(context: context, type: .push)
        defer {
            pull.close()
            push.close()
            context.terminate()
        }
        try pull.bind(path)
        try push.connect(path)
        let generator = DemoGenerator(series: 3, points: 50, interval: 10, start: 1_700_000_000)
        let expected = Array(generator)
        for message in PointEncoder(format: .graphite).messages(expected, recordsPerMessage: 40) {
            try push.send(frames: [message])
        }
        var parser = PayloadParser()
        var points: [Point] = []
        let buffer = ZMQMessageBuffer()
        try pull.setReceiveTimeout(milliseconds: 5_000)
        for _ in 0..<4 where try pull.receive(into: buffer) > 0 {
            _ = parser.parse(buffer.lastFrame, receivedAt: 1_800_000_000, into: &points)
        }
        #expect(points.map(\.key) == expected.map(\.key))
        #expect(zip(points, expected).allSatisfy { abs($0.value - $1.value) < 1e-9 })
    }
}

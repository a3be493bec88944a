import Configuration
import Detection
import Foundation
import History
import Logging
import Messaging
import Testing
@testable import Daemon

/// A clock a test moves by hand, for a shard or the writer driven in-process.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var monotonic = 1_000.0
    private var wall = 1_700_000_000.0

    func advance(_ seconds: Double) {
        lock.withLock {
            monotonic += seconds
            wall += seconds
        }
    }

    var pipeline: PipelineClock {
        PipelineClock(monotonic: { self.lock.withLock { self.monotonic } }, wall: { self.lock.withLock { self.wall } })
    }
}

/// One shard and the writer, built as the daemon builds them but driven turn by turn on the test's thread.
struct PipelineRig {
    let dir: URL
    /// The alert PUB endpoint the writer binds.
    let alertEndpoint: String
    let clock = ManualClock()
    let stats = PipelineStats()
    let store: Store
    let context: ZMQContext
    let writer: Writer
    let shard: Shard

    init(_ label: String, configure: (inout DaemonConfig) -> Void = { _ in }) throws {
        dir = try makeTempDir(label)
        var config = DaemonConfig()
        config.storage.database = dir.appendingPathComponent("omen.db").path
        config.alerts.endpoints = ["tcp://127.0.0.1:\(try freePort())"]
        configure(&config)
        alertEndpoint = config.alerts.endpoints[0]
        let logger = Logger(label: "omen-test")
        store = try Store(path: config.storage.database)
        context = try ZMQContext()
        writer = Writer(store: store, context: context, config: config, stats: stats, logger: logger,
                        clock: clock.pipeline)
        shard = Shard(index: 0, config: config, writer: writer, trainers: TrainerPool(threads: 1, stats: stats),
                      stats: stats, latency: LatencyRecorder(), logger: logger, clock: clock.pipeline)
        shard.prepare()
    }

    /// Points of one series, one a minute from `start`.
    func post(_ key: String, values: [Double], start: Double = 1_700_000_000) {
        let points = values.enumerated().map { Point(key: key, timestamp: start + Double($0.offset) * 60, value: $0.element) }
        shard.mailbox.post(.points(points, receivedAt: clock.pipeline.monotonic()))
    }

    /// What the shard handed to the writer so far, in order, as short labels; the messages go back in the
    /// writer's mailbox unchanged.
    func writerInbox() -> [String] {
        let (messages, _) = writer.mailbox.takeAll(timeout: 0)
        writer.mailbox.post(contentsOf: messages)
        return messages.map { message in
            switch message {
            case .events(let events): return "events:" + events.map { "\($0.kind.rawValue) \($0.series)" }.joined(separator: ",")
            case .series(let updates): return "series:" + updates.map(\.key).sorted().joined(separator: ",")
            case .checkpoints(let checkpoints, _): return "checkpoints:" + checkpoints.map(\.key).sorted().joined(separator: ",")
            case .hindsight(let verdicts): return "hindsight:\(verdicts.count)"
            }
        }
    }

    func close() {
        writer.closePublishers()
        context.terminate()
        try? store.close()
        try? FileManager.default.removeItem(at: dir)
    }
}

@Suite("pipeline in-process")
struct PipelineTests {
    /// At shutdown the shard hands over its episode events, then its series summaries, then its checkpoints; the
    /// writer commits them in one transaction and only then publishes the alert, which carries the committed
    /// row's id.
    @Test func shutdownHandsOverEventsThenCheckpointsAndAlertsAfterCommit() throws {
        let rig = try PipelineRig("shutdown-order") { config in
            config.detector.episodes.threshold = 0 // every point is high: the first one opens an episode
            config.detector.episodes.alertWhileLearning = true
        }
        defer { rig.close() }
        try rig.writer.openPublishers()
        let subscriber = try ZMQSocket(context: rig.context, type: .sub)
        defer { subscriber.close() }
        try subscriber.subscribe(prefix: AlertCodec.topicPrefix)
        try subscriber.setReceiveTimeout(milliseconds: 50)
        try subscriber.connect(rig.alertEndpoint)
        let buffer = ZMQMessageBuffer()

        // Slow joiner: publish probe episodes through the writer until the subscriber sees one (bounded).
        var joined = false
        for n in 1...200 where !joined {
            rig.writer.mailbox.post(.events([EpisodeEvent(kind: .open, timestamp: Double(n), score: 1, episode: Episode(
                series: "probe", number: n, openedAt: Double(n), peakAt: Double(n), peakScore: 1, value: 0,
                predicted: 0, lower: 0, upper: 0, threshold: 0, points: 1, modelVersion: 0))]))
            rig.clock.advance(1)
            #expect(rig.writer.turn())
            while try subscriber.receive(into: buffer) > 0 { joined = true }
        }
        #expect(joined, "the subscriber never received a probe alert")

        rig.post("web01.cpu", values: [1])
        rig.shard.mailbox.close()
        var turns = 0
        while rig.shard.turn(timeout: 0), turns < 10 { turns += 1 }
        #expect(turns < 10, "the shard did not finish after its mailbox closed")
        #expect(rig.writerInbox() == ["events:open web01.cpu", "series:web01.cpu", "checkpoints:web01.cpu"])

        rig.writer.mailbox.close()
        turns = 0
        while rig.writer.turn(), turns < 10 { turns += 1 }
        #expect(turns < 10, "the writer did not stop after its mailbox closed")
        // The alert is on its way over tcp://127.0.0.1; wait for it, boundedly (100 × 50 ms).
        var frames = 0
        for _ in 0..<100 where frames == 0 { frames = try subscriber.receive(into: buffer) }
        try #require(frames > 0, "no alert after the final flush")
        let alert = try AlertCodec.decode(topic: Array(buffer.frame(0)), body: Array(buffer.lastFrame))
        #expect(alert.kind == .open && alert.series == "web01.cpu")

        let stored = try rig.store.anomalies(AnomalyQuery(seriesGlob: "web01.cpu"))
        #expect(stored.map(\.id) == [alert.id])
        #expect(try rig.store.loadCheckpoints().map(\.key).contains("web01.cpu"))
    }

    /// A checkpoint round starts when the injected clock passes `checkpoint_interval`, not before.
    @Test func checkpointRoundFollowsTheClock() throws {
        let rig = try PipelineRig("checkpoint-clock") { $0.storage.checkpointInterval = 300 }
        defer { rig.close() }
        rig.post("web01.cpu", values: [1, 2, 3])
        #expect(rig.shard.turn(timeout: 0))
        #expect(rig.writerInbox().isEmpty, "no summary before a second passed, no checkpoint before the interval")

        rig.clock.advance(299)
        rig.post("web01.cpu", values: [4], start: 1_700_000_600)
        #expect(rig.shard.turn(timeout: 0))
        #expect(rig.writerInbox() == ["series:web01.cpu"])

        rig.clock.advance(2)
        #expect(rig.shard.turn(timeout: 0))
        #expect(rig.writerInbox() == ["series:web01.cpu", "checkpoints:web01.cpu"])
    }
}

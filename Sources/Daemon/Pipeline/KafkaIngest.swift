import Configuration
import Detection
import Foundation
import History
import Logging
import Messaging
import Synchronization

/// The Kafka ingest thread: a member of the consumer group of `[[kafka]]`. It owns the series of the partitions
/// the group assigns to this instance, and moves their state through the compacted changelog topic:
///
/// - on assignment it reads the partition's changelog to its end and hands those detectors to the shards, and only
///   then lets the consumer fetch the input from the committed offset;
/// - every `commit_interval` it checkpoints the series changed since their last changelog record, waits until the
///   cluster acknowledged them, and then commits the input offsets those checkpoints cover (at-least-once);
/// - on revocation it checkpoints the partition's series, waits for delivery, commits, and drops them; when the
///   partition was lost (this member timed out) it drops them without writing anything.
///
/// Points are parsed and routed to the shards exactly as ZeroMQ ingest does (same parser, same batches).
final class KafkaIngest: @unchecked Sendable {
    private let config: KafkaConfig
    private let producer: KafkaProducer
    private let shards: [Shard]
    private let stats: PipelineStats
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let started = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let startError = LockedBox<String?>(nil)
    let heartbeat = HeartbeatCell()
    /// The partitions this instance owns now (for logs and tests).
    let ownedPartitions = Mutex<[KafkaPartition]>([])

    /// How long a shard may take to answer a checkpoint or hand-over request.
    static let shardReplyTimeout = 60.0
    /// How long checkpoints may take to be acknowledged before a round counts as failed.
    static let deliveryTimeoutMs: Int32 = 30_000

    // Owned by the ingest thread.
    private let keys = SeriesKeyTable()
    private var parser: PayloadParser
    /// The partition each series' points arrive in (its changelog partition).
    private var partitionOfKey: [String: KafkaPartition] = [:]
    /// Per series id, the index in `partitionList` of its partition (-1 unknown), so a point costs no hashing.
    private var partitionIndexByID: ContiguousArray<Int32> = []
    private var partitionList: [KafkaPartition] = []
    private var partitionIndex: [KafkaPartition: Int32] = [:]
    /// Next offset to commit per owned partition (last offset handed to the shards + 1).
    private var nextOffset: [KafkaPartition: Int64] = [:]
    private var committed: [KafkaPartition: Int64] = [:]
    private var pending: [[Point]]
    private var pendingSince: [Double]
    private let router: ShardRouter

    init(config: KafkaConfig, producer: KafkaProducer, shards: [Shard], stats: PipelineStats, logger: Logger) {
        self.config = config
        self.producer = producer
        self.shards = shards
        self.stats = stats
        self.logger = logger
        parser = PayloadParser(format: config.format, keys: keys)
        pending = [[Point]](repeating: [], count: shards.count)
        pendingSince = [Double](repeating: 0, count: shards.count)
        router = ShardRouter(count: shards.count)
    }

    /// The producer of changelog records (and of alerts when `alerts_topic` is set), with Omen's pass-through settings.
    static func makeProducer(_ config: KafkaConfig) throws(DaemonError) -> KafkaProducer {
        do {
            return try KafkaProducer(brokers: config.brokers, settings: config.clientSettings.filter { isProducerSetting($0.0) })
        } catch {
            throw .ingest("Kafka producer for \(config.brokers): \(error)")
        }
    }

    /// librdkafka warns about consumer-only properties on a producer; these are the ones Omen passes to both.
    private static func isProducerSetting(_ name: String) -> Bool {
        !["session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms", "partition.assignment.strategy",
          "auto.offset.reset", "fetch.wait.max.ms", "fetch.min.bytes", "group.instance.id", "isolation.level",
          "fetch.max.bytes", "max.partition.fetch.bytes", "coordinator.query.interval.ms"].contains(name)
    }

    private static func isConsumerSetting(_ name: String) -> Bool {
        !["linger.ms", "acks", "request.required.acks", "enable.idempotence", "compression.type", "compression.codec",
          "batch.num.messages", "batch.size", "partitioner", "queue.buffering.max.messages",
          "queue.buffering.max.kbytes", "message.timeout.ms", "delivery.timeout.ms"].contains(name)
    }

    /// Checks the topics (creating missing changelogs), then starts the thread; returns once the consumer joined
    /// (subscribed), or throws why it could not.
    func start() throws(DaemonError) {
        for topic in config.topics {
            let changelog = config.changelog(for: topic)
            do {
                let inputs = try producer.partitionCount(topic: topic)
                guard inputs > 0 else {
                    throw DaemonError.ingest("Kafka topic \(topic) does not exist on \(config.brokers); create it "
                                             + "with as many partitions as instances you may run")
                }
                var states = try producer.partitionCount(topic: changelog)
                if states == 0 && config.createTopics {
                    try producer.createTopic(changelog, partitions: inputs, compact: true)
                    states = inputs
                    logger.info("created changelog topic", metadata: ["topic": "\(changelog)", "partitions": "\(inputs)"])
                }
                guard states >= inputs else {
                    throw DaemonError.ingest("changelog topic \(changelog) has \(states) partitions but \(topic) has "
                                             + "\(inputs); it needs at least as many (compacted, cleanup.policy=compact)")
                }
            } catch let error as DaemonError {
                throw error
            } catch {
                throw .ingest("Kafka \(config.brokers): \(error)")
            }
        }
        let thread = Thread { [self] in
            nameCurrentThread("omen-kafka")
            run()
            done.signal()
        }
        thread.name = "omen-kafka"
        thread.start()
        started.wait()
        if let why = startError.value { throw DaemonError.ingest(why) }
    }

    /// Leaves the group: the last revocation checkpoints every owned series and commits before this returns.
    func stop(timeout: Double = 90) {
        stopping.store(true, ordering: .relaxed)
        _ = done.wait(timeout: .now() + timeout)
    }

    private func run() {
        let consumer: KafkaConsumer
        let reader: KafkaPartitionReader
        do {
            let settings = config.clientSettings.filter { Self.isConsumerSetting($0.0) }
            reader = try KafkaPartitionReader(brokers: config.brokers, settings: settings.filter {
                !["session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy", "group.instance.id",
                  "max.poll.interval.ms", "auto.offset.reset"].contains($0.0)
            })
            consumer = try KafkaConsumer(brokers: config.brokers, group: config.group, settings: settings) { [self] change in
                switch change {
                case .assigned(let partitions): assign(partitions, reader: reader)
                case .revoked(let partitions, let lost): revoke(partitions, lost: lost, consumer: nil)
                }
            }
            try consumer.subscribe(config.topics)
        } catch {
            startError.value = "Kafka \(config.brokers): \(error)"
            started.signal()
            return
        }
        started.signal()
        // The revocation handler needs the consumer to commit; it is built after the handler, so it is reached here.
        revokeConsumer = consumer

        var errors: [KafkaError] = []
        var lastRound = monotonicSeconds()
        var lastErrorLog = 0.0
        while !stopping.load(ordering: .relaxed) {
            // One blocking poll, then whatever is already fetched, up to a batch's worth of messages.
            var got = consumer.poll(timeoutMs: 100, errors: &errors) { consume($0) }
            var taken = 0
            while got && taken < Ingest.messagesPerTurn {
                got = consumer.poll(timeoutMs: 0, errors: &errors) { consume($0) }
                taken += 1
            }
            for s in 0..<shards.count { handOver(s) }
            let now = monotonicSeconds()
            heartbeat.beat(now)
            if !errors.isEmpty {
                if now - lastErrorLog >= 10 {
                    lastErrorLog = now
                    logger.warning("kafka client error (it retries on its own)", metadata: [
                        "error": "\(errors.last.map { "\($0)" } ?? "")", "errors": "\(errors.count)"])
                }
                errors.removeAll()
            }
            producer.poll()
            if now - lastRound >= config.commitInterval {
                lastRound = now
                checkpointAndCommit(consumer)
            }
        }
        for s in 0..<shards.count { handOver(s) }
        // Leaving the group revokes every partition: the handler checkpoints, waits for delivery and commits.
        consumer.close()
        revokeConsumer = nil
    }

    /// The consumer, for commits inside the revocation handler (nil before subscribing and after closing).
    private var revokeConsumer: KafkaConsumer?

    // MARK: - Points

    private func consume(_ record: KafkaRecord) {
        stats.messagesReceived.wrappingAdd(1, ordering: .relaxed)
        let receivedMono = monotonicSeconds()
        var scratch: [Point] = []
        let summary = parser.parse(record.payload, receivedAt: wallSeconds(), into: &scratch)
        if summary.rejected > 0 {
            stats.recordsRejected.wrappingAdd(summary.rejected, ordering: .relaxed)
        }
        stats.pointsReceived.wrappingAdd(scratch.count, ordering: .relaxed)
        let p = index(of: record.partition)
        for point in scratch {
            if point.seriesID == Point.noSeriesID {
                partitionOfKey[point.key] = record.partition
            } else {
                let id = Int(point.seriesID)
                if id >= partitionIndexByID.count {
                    partitionIndexByID.append(contentsOf: repeatElement(-1, count: max(id + 1 - partitionIndexByID.count, 1024)))
                }
                if partitionIndexByID[id] != p {
                    partitionIndexByID[id] = p
                    partitionOfKey[point.key] = record.partition
                }
            }
            let s = router.shard(for: point, keys: keys)
            if pending[s].isEmpty { pendingSince[s] = receivedMono }
            pending[s].append(point)
            if pending[s].count >= Ingest.batchSize { handOver(s) }
        }
        nextOffset[record.partition] = record.offset + 1
    }

    private func index(of partition: KafkaPartition) -> Int32 {
        if let i = partitionIndex[partition] { return i }
        let i = Int32(partitionList.count)
        partitionList.append(partition)
        partitionIndex[partition] = i
        return i
    }

    private func handOver(_ s: Int) {
        guard !pending[s].isEmpty else { return }
        if !shards[s].mailbox.post(.points(pending[s], receivedAt: pendingSince[s]),
                                   waitingBelow: Ingest.maxQueuedBatches, timeout: 1) {
            stats.ingestStalls.wrappingAdd(1, ordering: .relaxed)
        }
        pending[s] = []
        pending[s].reserveCapacity(Ingest.batchSize)
    }

    // MARK: - Ownership

    /// Restores the partitions' series from their changelogs before the consumer starts fetching them.
    private func assign(_ partitions: [KafkaPartition], reader: KafkaPartitionReader) {
        let began = monotonicSeconds()
        var perShard = [[SeriesState]](repeating: [], count: shards.count)
        var read = 0
        for partition in partitions {
            let changelog = KafkaPartition(topic: config.changelog(for: partition.topic), partition: partition.partition)
            var latest: [String: [UInt8]] = [:]
            do {
                read += try reader.readToEnd(changelog, timeoutMs: 120_000) { key, value in
                    let k = String(decoding: key, as: UTF8.self)
                    if let value, value.count > 0 { latest[k] = Array(value) } else { latest.removeValue(forKey: k) }
                }
            } catch {
                // Without its changelog a partition's series would relearn from scratch; say so loudly, go on.
                logger.error("changelog not read; its series relearn", metadata: [
                    "partition": "\(changelog)", "error": "\(error)"])
            }
            for (key, blob) in latest {
                partitionOfKey[key] = partition
                perShard[router.shard(for: key)].append(SeriesState(key: key, blob: blob))
            }
        }
        let replies = ReplyCollector<(Int, Int)>(expected: shards.count)
        for (s, states) in perShard.enumerated() {
            shards[s].mailbox.post(.ownership(.adopt(states, done: { replies.add(($0, $1)) })))
        }
        let counts = replies.wait(timeout: Self.shardReplyTimeout)
        for p in partitions { committed.removeValue(forKey: p) }
        ownedPartitions.withLock { $0 = Array(Set($0).union(partitions)).sorted() }
        logger.info("partitions assigned", metadata: [
            "partitions": "\(partitions.map(\.description).joined(separator: ","))",
            "series_restored": "\(counts.reduce(0) { $0 + $1.0 })",
            "series_rejected": "\(counts.reduce(0) { $0 + $1.1 })",
            "changelog_records": "\(read)",
            "seconds": "\(String(format: "%.3f", monotonicSeconds() - began))",
        ])
    }

    /// Checkpoints and drops the partitions' series, then commits what they covered (unless the partitions were
    /// lost, when another member may already own them and nothing is written).
    private func revoke(_ partitions: [KafkaPartition], lost: Bool, consumer: KafkaConsumer?) {
        for s in 0..<shards.count { handOver(s) }
        let gone = Set(partitions)
        var keysPerShard = [Set<String>](repeating: [], count: shards.count)
        for (key, partition) in partitionOfKey where gone.contains(partition) {
            keysPerShard[router.shard(for: key)].insert(key)
        }
        let replies = ReplyCollector<[SeriesState]>(expected: shards.count)
        for (s, keys) in keysPerShard.enumerated() {
            shards[s].mailbox.post(.ownership(.release(keys, checkpoint: !lost, reply: { replies.add($0) })))
        }
        let states = replies.wait(timeout: Self.shardReplyTimeout).flatMap { $0 }
        var offsets: [KafkaPartition: Int64] = [:]
        for p in partitions { if let o = nextOffset[p], committed[p] != o { offsets[p] = o } }
        var outcome = lost ? "lost: dropped without checkpoint or commit" : "checkpointed and committed"
        if !lost {
            if publish(states), let consumer = consumer ?? revokeConsumer {
                do {
                    try consumer.commit(offsets)
                } catch {
                    outcome = "checkpointed, commit failed: \(error)"
                }
            } else {
                outcome = "checkpoints not delivered; offsets not committed"
            }
        }
        for p in partitions {
            nextOffset.removeValue(forKey: p)
            committed.removeValue(forKey: p)
        }
        for (key, partition) in partitionOfKey where gone.contains(partition) { partitionOfKey.removeValue(forKey: key) }
        let goneIndexes = Set(partitions.compactMap { partitionIndex[$0] })
        for i in partitionIndexByID.indices where goneIndexes.contains(partitionIndexByID[i]) { partitionIndexByID[i] = -1 }
        ownedPartitions.withLock { $0 = $0.filter { !gone.contains($0) } }
        logger.info("partitions revoked", metadata: [
            "partitions": "\(partitions.map(\.description).joined(separator: ","))",
            "series_checkpointed": "\(states.count)", "outcome": "\(outcome)"])
    }

    /// Checkpoints the changed series and, once the cluster has them, commits the input offsets they cover.
    private func checkpointAndCommit(_ consumer: KafkaConsumer) {
        for s in 0..<shards.count { handOver(s) }
        // The offsets of points already handed over: the checkpoints requested next are taken after those points.
        var offsets: [KafkaPartition: Int64] = [:]
        for (p, o) in nextOffset where committed[p] != o { offsets[p] = o }
        guard !offsets.isEmpty else { return }
        let replies = ReplyCollector<[SeriesState]>(expected: shards.count)
        for shard in shards { shard.mailbox.post(.ownership(.checkpointChanged(reply: { replies.add($0) }))) }
        let states = replies.wait(timeout: Self.shardReplyTimeout).flatMap { $0 }
        guard publish(states) else {
            for shard in shards { shard.mailbox.post(.ownership(.forgetChangelog)) }
            logger.error("changelog checkpoints not delivered; input offsets not committed", metadata: [
                "checkpoints": "\(states.count)", "reason": "\(producer.lastFailure ?? "timeout")"])
            return
        }
        do {
            try consumer.commit(offsets)
            for (p, o) in offsets { committed[p] = o }
        } catch {
            logger.warning("input offsets not committed; the next round retries", metadata: ["error": "\(error)"])
        }
    }

    /// Produces checkpoints to their changelog partitions and waits for every acknowledgement; true when all arrived.
    private func publish(_ states: [SeriesState]) -> Bool {
        guard !states.isEmpty else { return true }
        let failedBefore = producer.failed
        for state in states {
            guard let partition = partitionOfKey[state.key] else { continue }
            do {
                try producer.send(topic: config.changelog(for: partition.topic), key: Array(state.key.utf8),
                                  value: state.blob, partition: partition.partition)
            } catch {
                logger.error("changelog checkpoint not queued", metadata: ["series": "\(state.key)", "error": "\(error)"])
                return false
            }
        }
        let flushed = producer.flush(timeoutMs: Self.deliveryTimeoutMs)
        return flushed && producer.failed == failedBefore
    }
}

/// One series' detector state as the changelog holds it: key and checkpoint bytes.
struct SeriesState: Sendable {
    var key: String
    var blob: [UInt8]
}

/// Collects one reply per shard, with a bounded wait.
final class ReplyCollector<Reply: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var replies: [Reply] = []
    private let expected: Int

    init(expected: Int) { self.expected = expected }

    func add(_ reply: Reply) {
        condition.lock()
        replies.append(reply)
        condition.broadcast()
        condition.unlock()
    }

    /// The replies that arrived within `timeout` seconds (all of them, normally).
    func wait(timeout: Double) -> [Reply] {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while replies.count < expected {
            if !condition.wait(until: deadline) { break }
        }
        return replies
    }
}

/// Alerts also produced to a Kafka topic (`alerts_topic`), keyed by series.
struct KafkaAlertSink: Sendable {
    let producer: KafkaProducer
    let topic: String

    func publish(series: String, body: [UInt8]) -> Bool {
        do {
            try producer.send(topic: topic, key: Array(series.utf8), value: body, timeoutMs: 0)
            return true
        } catch {
            return false
        }
    }
}

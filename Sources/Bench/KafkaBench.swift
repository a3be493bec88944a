import Daemon
import Foundation
import History
import Logging
import Messaging
import Synchronization

/// `omen bench kafka`: points/s through Kafka into a group of `omen run` instances, and how long a takeover takes.
///
/// This process hosts librdkafka's mock cluster (3 brokers) and produces; the instances are child processes of the
/// same binary, each with its own database (the consumers must not live in the process hosting the mock cluster).
/// Points are counted from the instances' `series` rows, which are written about once a second: the figures carry
/// that resolution.
public enum KafkaBench {
    public struct Options: Sendable {
        public var series = 200
        /// Points per series in the timed run (after an untimed warm-up that trains every series).
        public var pointsPerSeries = 1_000
        /// Consecutive points of one series per Kafka message.
        public var recordsPerMessage = 10
        public var instances = 2
        public var partitions = 6
        public var hidden = 16
        /// The `omen` executable to start the instances from.
        public var binary: String
        public init(binary: String) { self.binary = binary }
    }

    public struct Result: Sendable {
        public var points: Int
        public var seconds: Double
        public var pointsPerSecond: Double
        public var setupSeconds: Double
        /// SIGKILL of one instance → the survivor logged owning every partition.
        public var ownedAllSeconds: Double?
        /// SIGKILL → the first point of a moved series scored by the survivor (seen in its database).
        public var firstMovedPointSeconds: Double?
    }

    static let topic = "bench"
    static let warmRounds = 300

    public static func run(_ options: Options, logger: Logger) throws -> Result {
        let setupStart = monotonicSeconds()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("omen-bench-kafka-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cluster = try KafkaMockCluster(brokers: 3)
        try cluster.createTopic(topic, partitions: options.partitions)
        try cluster.createTopic(topic + ".omen-state", partitions: options.partitions)
        let producer = try KafkaProducer(brokers: cluster.brokers, settings: [("linger.ms", "5")])

        var instances: [(name: String, process: Process, log: URL, database: String)] = []
        defer {
            for i in instances where i.process.isRunning { kill(i.process.processIdentifier, SIGKILL) }
            producer.close(flushTimeoutMs: 0)
            cluster.shutdown()
        }
        for n in 0..<options.instances {
            let name = "i\(n)"
            let config = dir.appendingPathComponent("\(name).toml")
            try """
                [model]
                hidden = \(options.hidden)
                [training]
                epochs = 3
                sequence_length = 32
                batch_size = 4
                [learning]
                warmup_points = 200
                window = 400
                retrain_every = 1000
                [storage]
                flush_interval = "100ms"
                checkpoint_interval = "10s"
                [alerts]
                endpoints = ["ipc://\(dir.path)/alerts-\(name)"]
                [[kafka]]
                brokers = "\(cluster.brokers)"
                topics = ["\(topic)"]
                group = "bench"
                commit_interval = "1s"
                settings = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"]
                """.write(to: config, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: options.binary)
            let database = dir.appendingPathComponent("\(name).db").path
            process.arguments = ["run", "--config", config.path, "--database", database, "--log-level", "info"]
            let log = dir.appendingPathComponent("\(name).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            instances.append((name, process, log, database))
        }
        let databases = instances.map(\.database)

        // Untimed: every series trained.
        try produce(producer, series: options.series, rounds: 0..<warmRounds, batch: options.recordsPerMessage)
        guard wait(timeout: 900, { merged(databases).count == options.series
                && merged(databases).values.allSatisfy { $0.points == warmRounds && $0.state == .trained } }) else {
            throw BenchError("the instances did not train every series within 900 s; see \(instances[0].log.path)")
        }
        let setupSeconds = monotonicSeconds() - setupStart

        // Timed: points through the cluster into the instances, until every one is scored.
        // The mock cluster keeps a few MB per partition and drops older messages, so the producer stays at most two
        // chunks (~200,000 points) ahead of the slowest series instead of queueing the whole run.
        let end = warmRounds + options.pointsPerSeries
        let chunk = max(1, 100_000 / options.series)
        let started = monotonicSeconds()
        var next = warmRounds
        while next < end {
            let stop = min(next + chunk, end)
            let behind = next - 2 * chunk
            guard wait(timeout: 600, { behind <= warmRounds || slowest(databases) >= behind }) else {
                throw BenchError("the instances fell more than two chunks behind for 600 s")
            }
            try produce(producer, series: options.series, rounds: next..<stop, batch: options.recordsPerMessage)
            next = stop
        }
        guard wait(timeout: 1800, { merged(databases).values.allSatisfy { $0.points == end } }) else {
            throw BenchError("not every point was scored within 1800 s")
        }
        let seconds = monotonicSeconds() - started
        let points = options.series * options.pointsPerSeries

        // Takeover: keep producing, kill the last instance, watch the first one.
        var ownedAll: Double?, firstMoved: Double?
        if instances.count >= 2 {
            let victim = instances[instances.count - 1], survivor = instances[0]
            let moved = series(victim.database)
            let publishing = Publisher(producer: producer, series: options.series, from: end)
            publishing.start()
            defer { publishing.stop() }
            Thread.sleep(forTimeInterval: 2)
            let before = series(victim.database)
            let killedAt = monotonicSeconds()
            kill(victim.process.processIdentifier, SIGKILL)
            victim.process.waitUntilExit()
            let deadline = killedAt + 120
            while monotonicSeconds() < deadline && (ownedAll == nil || firstMoved == nil) {
                let now = monotonicSeconds() - killedAt
                if ownedAll == nil, ownedPartitions(log: survivor.log) == options.partitions { ownedAll = now }
                if firstMoved == nil {
                    let rows = series(survivor.database)
                    if moved.keys.contains(where: { key in (rows[key]?.points ?? 0) > (before[key]?.points ?? Int.max) }) {
                        firstMoved = now
                    }
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        for i in instances where i.process.isRunning {
            kill(i.process.processIdentifier, SIGTERM)
            i.process.waitUntilExit()
        }
        return Result(points: points, seconds: seconds, pointsPerSecond: Double(points) / seconds,
                      setupSeconds: setupSeconds, ownedAllSeconds: ownedAll, firstMovedPointSeconds: firstMoved)
    }

    static func line(series s: Int, round i: Int) -> String {
        let value = 10 + Double(s % 7) + 3 * sin(Double(i + s) * 2 * .pi / 40) + Double((i &* 31 &+ s) % 17) * 0.02
        return "bench.s\(s) \(value) \(1_700_000_000 + i * 60)"
    }

    /// Rounds of every series, `batch` consecutive points of one series per keyed message; waits for delivery.
    static func produce(_ producer: KafkaProducer, series: Int, rounds: Range<Int>, batch: Int) throws {
        var start = rounds.lowerBound
        while start < rounds.upperBound {
            let stop = min(start + batch, rounds.upperBound)
            for s in 0..<series {
                let payload = (start..<stop).map { line(series: s, round: $0) }.joined(separator: "\n")
                try producer.send(topic: topic, key: Array("bench.s\(s)".utf8), value: Array(payload.utf8))
            }
            producer.poll()
            start = stop
        }
        guard producer.flush(timeoutMs: 120_000) else { throw BenchError("the mock cluster did not acknowledge the points") }
    }

    /// Keeps producing one round of every series each 100 ms (the takeover's live traffic).
    final class Publisher: @unchecked Sendable {
        let producer: KafkaProducer
        let series: Int
        let from: Int
        private let stopping = Atomic<Bool>(false)
        private let done = DispatchSemaphore(value: 0)

        init(producer: KafkaProducer, series: Int, from: Int) {
            self.producer = producer
            self.series = series
            self.from = from
        }

        func start() {
            Thread { [self] in
                var round = from
                while !stopping.load(ordering: .relaxed) && round < from + 3_000 {
                    try? KafkaBench.produce(producer, series: series, rounds: round..<(round + 1), batch: 1)
                    round += 1
                    Thread.sleep(forTimeInterval: 0.1)
                }
                done.signal()
            }.start()
        }

        func stop() {
            stopping.store(true, ordering: .relaxed)
            _ = done.wait(timeout: .now() + 30)
        }
    }

    static func series(_ database: String) -> [String: SeriesRecord] {
        guard let store = try? Store.openReadOnly(path: database), let rows = try? store.series() else { return [:] }
        return Dictionary(rows.map { ($0.series, $0) }) { a, b in a.points >= b.points ? a : b }
    }

    static func merged(_ databases: [String]) -> [String: SeriesRecord] {
        Dictionary(HistoryMerge.series(databases.map { Array(series($0).values) }).map { ($0.series, $0) }) { a, _ in a }
    }

    /// Points of the series furthest behind.
    static func slowest(_ databases: [String]) -> Int {
        merged(databases).values.map(\.points).min() ?? 0
    }

    static func ownedPartitions(log: URL) -> Int {
        guard let text = try? String(contentsOf: log, encoding: .utf8) else { return 0 }
        var owned = Set<Substring>()
        for line in text.split(separator: "\n") {
            let assigned = line.contains("partitions assigned"), revoked = line.contains("partitions revoked")
            guard assigned || revoked, let r = line.range(of: "partitions=") else { continue }
            for p in line[r.upperBound...].prefix(while: { $0 != " " }).split(separator: ",") {
                if assigned { owned.insert(p) } else { owned.remove(p) }
            }
        }
        return owned.count
    }

    static func wait(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = monotonicSeconds() + timeout
        while monotonicSeconds() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return condition()
    }
}

import Foundation
import History
import Messaging
import Testing

/// Objects of librdkafka this test process must never tear down: `rd_kafka_destroy` of a closed consumer hung in
/// the process hosting the mock cluster (librdkafka 2.0.2). The group members under test run in `omen` processes.
private final class KafkaParking: @unchecked Sendable {
    private let lock = NSLock()
    private var objects: [AnyObject] = []
    func keep(_ object: AnyObject) { lock.withLock { objects.append(object) } }
}
private let parking = KafkaParking()

/// A mock Kafka cluster in this process and `omen run` instances of one group in child processes.
final class KafkaGroupHarness {
    static let topic = "points"
    static let group = "omen-e2e"
    static let partitions = 6
    static let seriesCount = 60
    let dir: URL
    let cluster: KafkaMockCluster
    let producer: KafkaProducer
    let reader: KafkaPartitionReader
    let offsets: KafkaConsumer
    var instances: [String: OmenProcess] = [:]

    init(name: String) throws {
        dir = try makeTempDir(name)
        cluster = try KafkaMockCluster(brokers: 3)
        parking.keep(cluster)
        try cluster.createTopic(Self.topic, partitions: Self.partitions)
        // The mock cluster of librdkafka 2.0.2 does not answer CreateTopics, so the daemon's own creation of a
        // missing changelog (create_topics) cannot run here; the changelog is made like the input topic.
        try cluster.createTopic(Self.topic + ".omen-state", partitions: Self.partitions)
        producer = try KafkaProducer(brokers: cluster.brokers, settings: [("linger.ms", "2")])
        parking.keep(producer)
        reader = try KafkaPartitionReader(brokers: cluster.brokers)
        parking.keep(reader)
        // Reads the group's committed offsets; it never subscribes, so it never joins the group.
        offsets = try KafkaConsumer(brokers: cluster.brokers, group: Self.group) { _ in }
        parking.keep(offsets)
    }

    func database(_ name: String) -> String { dir.appendingPathComponent("\(name).db").path }

    /// Starts `omen run` with its own database and alert socket, in the group.
    func start(_ name: String) throws {
        let config = dir.appendingPathComponent("\(name).toml")
        let text = testConfig() + """


            [alerts]
            endpoints = ["ipc://\(dir.path)/alerts-\(name)"]

            [[kafka]]
            brokers = "\(cluster.brokers)"
            topics = ["\(Self.topic)"]
            group = "\(Self.group)"
            commit_interval = "1s"
            settings = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"]
            """
        try text.write(to: config, atomically: true, encoding: .utf8)
        instances[name] = try OmenProcess(arguments: ["run", "--config", config.path, "--database", database(name)], dir: dir)
    }

    static func key(_ s: Int) -> String { "kafka.s\(s)" }

    /// One point of series `s` at round `i`; `spike` adds a jump far outside its band.
    static func line(series s: Int, round i: Int, spike: Bool = false) -> String {
        let ts = 1_700_000_000 + i * 60
        let noise = Double(((i &+ s &* 7) &* 2_654_435_761) % 1000) / 1000 - 0.5
        let value = 10 + Double(s % 5) + 3 * sin(Double(i + s) * 2 * .pi / 40) + noise * 0.3 + (spike ? 80 : 0)
        return "\(key(s)) \(value) \(ts)"
    }

    /// Produces rounds of every series, one keyed message per point, and waits for the cluster's acknowledgements.
    func publish(rounds: Range<Int>, spike: (series: Int, round: Int)? = nil) throws {
        for i in rounds {
            for s in 0..<Self.seriesCount {
                let isSpike = spike.map { $0.series == s && $0.round == i } ?? false
                try producer.send(topic: Self.topic, key: Array(Self.key(s).utf8),
                                  value: Array(Self.line(series: s, round: i, spike: isSpike).utf8))
            }
        }
        guard producer.flush(timeoutMs: 60_000) else { throw TestFailure("points not acknowledged by the mock cluster") }
    }

    /// The same points through `omen publish --kafka` (keyed by series, 20 records of one series per message).
    func publishWithOmen(rounds: Range<Int>) throws {
        let file = dir.appendingPathComponent("points-\(rounds.lowerBound).txt")
        var text = ""
        for i in rounds {
            for s in 0..<Self.seriesCount { text += Self.line(series: s, round: i) + "\n" }
        }
        try text.write(to: file, atomically: true, encoding: .utf8)
        let result = try runOmen(["publish", "--kafka", cluster.brokers, "--topic", Self.topic, "--batch", "20", file.path],
                                 timeout: 120)
        let expected = "sent \(rounds.count * Self.seriesCount) records in \(rounds.count * Self.seriesCount / 20) messages"
        guard result.status == 0, result.stderr.contains(expected) else {
            throw TestFailure("omen publish --kafka: status \(result.status): \(result.stderr)")
        }
    }

    /// Whether the group committed every input partition up to its end: every point was scored and is covered by a
    /// delivered changelog checkpoint.
    func everythingCommitted() throws -> Bool {
        let parts = (0..<Int32(Self.partitions)).map { KafkaPartition(topic: Self.topic, partition: $0) }
        let committed = try offsets.committed(parts)
        for p in parts where try committed[p] != reader.endOffset(p) { return false }
        return true
    }

    /// The series rows of one instance's database, by key (empty before the file exists).
    func series(_ name: String) -> [String: SeriesRecord] {
        guard FileManager.default.fileExists(atPath: database(name)),
              let store = try? Store.openReadOnly(path: database(name)),
              let rows = try? store.series() else { return [:] }
        return Dictionary(uniqueKeysWithValues: rows.map { ($0.series, $0) })
    }

    /// The partitions an instance owns, from its "partitions assigned" and "partitions revoked" log lines.
    func owned(_ name: String) -> Set<String> {
        guard let log = instances[name]?.stderr else { return [] }
        var owned = Set<String>()
        for line in log.split(separator: "\n") {
            let assigned = line.contains("partitions assigned"), revoked = line.contains("partitions revoked")
            guard assigned || revoked, let r = line.range(of: "partitions=") else { continue }
            for p in line[r.upperBound...].prefix(while: { $0 != " " }).split(separator: ",") {
                if assigned { owned.insert(String(p)) } else { owned.remove(String(p)) }
            }
        }
        return owned
    }

    func stopAll() {
        for (_, process) in instances { _ = process.stop(signal: SIGTERM, timeout: 60) }
    }

    deinit {
        for (_, process) in instances where process.process.isRunning { kill(process.process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: dir)
    }
}

@Suite(.serialized) struct KafkaEndToEndTests {
    /// Two instances split 60 series; after one is killed, the survivor owns all 6 partitions, restores the dead
    /// one's series from the changelog (trained, same model version and point count) and scores every later point
    /// exactly once; a spike after the takeover gives exactly one episode across both databases.
    @Test func survivorTakesOverTheSeriesOfAKilledInstance() throws {
        let h = try KafkaGroupHarness(name: "kafka-takeover")
        defer { h.stopAll() }
        try h.start("a")
        try h.start("b")
        try h.publishWithOmen(rounds: 0..<600)
        let all = Set((0..<KafkaGroupHarness.seriesCount).map(KafkaGroupHarness.key))

        // Trained, split between the two, and everything committed behind delivered checkpoints.
        let settled = try eventually(timeout: 240) {
            let a = h.series("a"), b = h.series("b")
            let owned = a.merging(b) { x, _ in x }
            guard owned.count == all.count, owned.values.allSatisfy({ $0.state == .trained && $0.points == 600 }),
                  Set(a.keys).isDisjoint(with: b.keys) else { return false }
            return try h.everythingCommitted()
        }
        let before = (a: h.series("a"), b: h.series("b"))
        #expect(settled, "not settled: a \(before.a.count) b \(before.b.count) series\n\(h.instances["a"]?.stderr.suffix(3000) ?? "")")
        try #require(settled)
        #expect(!before.a.isEmpty && !before.b.isEmpty, "both instances own series")
        // `omen series` over both databases lists each series once.
        let merged = try runOmen(["series", "--database", h.database("a"), "--database", h.database("b"), "--format", "csv"])
        #expect(merged.status == 0)
        #expect(merged.stdout.split(separator: "\n").count == all.count + 1)

        // SIGKILL b: a must take over its partitions with their state.
        let killedAt = Date()
        _ = h.instances["b"]?.stop(signal: SIGKILL, timeout: 10)
        let moved = before.b
        let ownsAll = eventually(timeout: 90) { h.owned("a").count == KafkaGroupHarness.partitions }
        let ownedAt = Date().timeIntervalSince(killedAt)
        #expect(ownsAll, "the survivor owns \(h.owned("a").sorted())")
        let restored = eventually(timeout: 90) {
            let a = h.series("a")
            return moved.allSatisfy { a[$0.key]?.points == $0.value.points }
        }
        let takeover = Date().timeIntervalSince(killedAt)
        #expect(restored, "the survivor did not restore the killed instance's series\n\(h.instances["a"]?.stderr.suffix(3000) ?? "")")
        try #require(restored)
        print("kafka takeover: the survivor owned all 6 partitions \(String(format: "%.1f", ownedAt)) s and showed all "
              + "\(moved.count) moved series \(String(format: "%.1f", takeover)) s after SIGKILL")
        let afterTakeover = h.series("a")
        for (key, old) in moved {
            let now = afterTakeover[key]
            #expect(now?.state == .trained && now?.modelVersion == old.modelVersion && now?.points == old.points,
                    "\(key) restored as \(String(describing: now)), was \(old)")
        }

        // Later points, with a spike into one moved series: each point scored once by the survivor.
        let spiked = try #require(moved.keys.sorted().first)
        let spikedIndex = try #require(Int(spiked.dropFirst("kafka.s".count)))
        try h.publish(rounds: 600..<760, spike: (spikedIndex, 700))
        let scored = eventually(timeout: 120) {
            h.series("a").values.allSatisfy { $0.points == 760 } && h.series("a").count == all.count
        }
        #expect(scored, "the survivor did not score every later point once: \(h.series("a").values.map(\.points).sorted())")
        #expect(h.series("b").values.allSatisfy { $0.points == 600 }, "the killed instance's rows changed")

        let spikeTime = Double(1_700_000_000 + 700 * 60)
        let episodesSeen = eventually(timeout: 30) {
            let result = try? runOmen(["anomalies", "--database", h.database("a"), "--database", h.database("b"),
                                       "--series", spiked, "--limit", "0", "--format", "csv"])
            return (result?.stdout.split(separator: "\n").count ?? 0) >= 2
        }
        #expect(episodesSeen)
        let anomalies = try runOmen(["anomalies", "--database", h.database("a"), "--database", h.database("b"),
                                     "--series", spiked, "--limit", "0", "--format", "json"])
        let rows = try JSONDecoder().decode([AnomalyRecord].self, from: Data(anomalies.stdout.utf8))
        let afterSpike = rows.filter { $0.openedAt >= spikeTime - 60 }
        #expect(afterSpike.count == 1, "episodes of \(spiked) around the spike: \(afterSpike)")
        #expect(afterSpike.first?.openedAt == spikeTime)
        #expect(h.instances["a"]?.stop(signal: SIGTERM, timeout: 60) == 0)
    }

    /// A third instance joining takes partitions with their series' state (same model version and point count),
    /// and afterwards each series' later points are scored by exactly one instance.
    @Test func joiningInstanceTakesPartitionsWithTheirState() throws {
        let h = try KafkaGroupHarness(name: "kafka-join")
        defer { h.stopAll() }
        try h.start("a")
        try h.start("b")
        try h.publish(rounds: 0..<600)
        let all = Set((0..<KafkaGroupHarness.seriesCount).map(KafkaGroupHarness.key))
        let settled = try eventually(timeout: 240) {
            let owned = h.series("a").merging(h.series("b")) { x, _ in x }
            guard owned.count == all.count, owned.values.allSatisfy({ $0.state == .trained && $0.points == 600 }) else {
                return false
            }
            return try h.everythingCommitted()
        }
        try #require(settled, "not settled\n\(h.instances["a"]?.stderr.suffix(3000) ?? "")")
        let before = h.series("a").merging(h.series("b")) { x, _ in x }

        try h.start("c")
        // The rebalance settles: every partition has one owner and c has some.
        let rebalanced = eventually(timeout: 120) {
            let owned = ["a", "b", "c"].map { h.owned($0) }
            return !owned[2].isEmpty && owned.map(\.count).reduce(0, +) == KafkaGroupHarness.partitions
                && Set(owned.joined()).count == KafkaGroupHarness.partitions
        }
        try #require(rebalanced, "owners a \(h.owned("a").sorted()) b \(h.owned("b").sorted()) c \(h.owned("c").sorted())\n\(h.instances["c"]?.stderr.suffix(3000) ?? "")")
        // The moved series are shown by c exactly as their previous owner left them.
        let joined = eventually(timeout: 60) { h.series("c").count > 0 }
        try #require(joined, "the third instance shows no series")
        for (key, row) in h.series("c") {
            #expect(row.state == .trained && row.modelVersion == before[key]?.modelVersion && row.points == before[key]?.points,
                    "\(key) arrived as \(row), was \(String(describing: before[key]))")
        }
        let snapshot = ["a": h.series("a"), "b": h.series("b"), "c": h.series("c")]

        try h.publish(rounds: 600..<640)
        let scored = eventually(timeout: 120) {
            let rows = ["a", "b", "c"].map { h.series($0) }
            return all.allSatisfy { key in rows.contains { $0[key]?.points == 640 } }
        }
        #expect(scored, "not every series reached 640 points")
        // Exactly one instance advanced each series, by exactly the 40 new points.
        for key in all {
            let advanced = ["a", "b", "c"].filter { name in
                h.series(name)[key].map { $0.points != snapshot[name]?[key]?.points } ?? false
            }
            #expect(advanced.count == 1, "\(key) advanced in \(advanced)")
        }
        #expect(["a", "b", "c"].allSatisfy { !h.series($0).isEmpty })
        for name in ["a", "b", "c"] { #expect(h.instances[name]?.stop(signal: SIGTERM, timeout: 60) == 0) }
    }
}

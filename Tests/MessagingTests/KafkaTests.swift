import Foundation
import Testing
@testable import Messaging

/// The mock cluster and its consumers outlive the test on purpose: `rd_kafka_destroy` of a closed consumer hung in
/// the process hosting the mock cluster (librdkafka 2.0.2), so in-process consumers are never closed and the
/// cluster is never torn down under them. The daemon's end-to-end tests keep their consumers in `omen` processes.
private final class Parked: @unchecked Sendable {
    private let lock = NSLock()
    private var objects: [AnyObject] = []
    func keep(_ object: AnyObject) { lock.withLock { objects.append(object) } }
}
private let parked = Parked()

@Suite struct KafkaTests {
    /// Keyed messages through a 3-broker mock cluster reach a group consumer intact, every key always in one
    /// partition, after a cooperative assignment of all 6 partitions; committed offsets read back.
    @Test func keyedMessagesThroughAGroupConsumer() throws {
        let cluster = try KafkaMockCluster(brokers: 3)
        parked.keep(cluster)
        try cluster.createTopic("points", partitions: 6)
        let producer = try KafkaProducer(brokers: cluster.brokers)
        defer { producer.close() }
        let keys = (0..<20).map { "web\($0).cpu" }
        for round in 0..<10 {
            for key in keys {
                try producer.send(topic: "points", key: Array(key.utf8), value: Array("\(key) \(round) \(1_700_000_000 + round)".utf8))
            }
        }
        #expect(producer.flush(timeoutMs: 20_000))
        #expect(producer.delivered == 200 && producer.failed == 0)
        #expect(try producer.partitionCount(topic: "points") == 6)

        var rebalances: [KafkaRebalance] = []
        let consumer = try KafkaConsumer(brokers: cluster.brokers, group: "g1",
                                         settings: [("session.timeout.ms", "6000")]) { rebalances.append($0) }
        parked.keep(consumer)
        try consumer.subscribe(["points"])
        var partitionOfKey: [String: Set<Int32>] = [:]
        var received = 0
        var next: [KafkaPartition: Int64] = [:]
        var errors: [KafkaError] = []
        let deadline = Date().addingTimeInterval(30)
        while received < 200, Date() < deadline {
            _ = consumer.poll(timeoutMs: 100, errors: &errors) { record in
                let key = String(decoding: record.key, as: UTF8.self)
                let value = String(decoding: record.payload, as: UTF8.self)
                #expect(value.hasPrefix(key + " "))
                partitionOfKey[key, default: []].insert(record.partition.partition)
                next[record.partition] = record.offset + 1
                received += 1
            }
        }
        #expect(received == 200)
        #expect(partitionOfKey.count == 20 && partitionOfKey.values.allSatisfy { $0.count == 1 })
        #expect(consumer.rebalanceProtocol == "COOPERATIVE")
        #expect(rebalances.first == .assigned((0..<6).map { KafkaPartition(topic: "points", partition: $0) }))
        #expect(consumer.assignment().count == 6)
        try consumer.commit(next)
        #expect(try consumer.committed(Array(next.keys)) == next)
    }

    /// A partition reader returns a partition's messages up to its end in offset order, tombstones as nil, and an
    /// empty partition as nothing.
    @Test func partitionReaderReadsToTheEnd() throws {
        let cluster = try KafkaMockCluster(brokers: 1)
        parked.keep(cluster)
        try cluster.createTopic("state", partitions: 2)
        let producer = try KafkaProducer(brokers: cluster.brokers)
        defer { producer.close() }
        for i in 0..<50 {
            try producer.send(topic: "state", key: Array("k\(i % 5)".utf8), value: [UInt8(i)], partition: 1)
        }
        try producer.send(topic: "state", key: Array("k0".utf8), value: nil, partition: 1)
        #expect(producer.flush(timeoutMs: 20_000))
        let reader = try KafkaPartitionReader(brokers: cluster.brokers)
        var latest: [String: [UInt8]?] = [:]
        var order: [UInt8] = []
        let n = try reader.readToEnd(KafkaPartition(topic: "state", partition: 1), timeoutMs: 20_000) { key, value in
            let k = String(decoding: key, as: UTF8.self)
            latest.updateValue(value.map { Array($0) }, forKey: k)
            if let v = value { order.append(v[0]) }
        }
        #expect(n == 51)
        #expect(order == (0..<50).map { UInt8($0) })
        #expect(latest["k0"] == .some(nil) && latest["k4"] == .some([49]))
        #expect(try reader.readToEnd(KafkaPartition(topic: "state", partition: 0), timeoutMs: 5_000) { _, _ in } == 0)
    }
}

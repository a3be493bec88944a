// `omen publish --kafka`: the same records, produced to a Kafka topic keyed by series key.
import ArgumentParser
import Detection
import Foundation
import Messaging

extension PublishCommand {
    /// Produces every record keyed by its series key, so a series always lands in one partition. Up to --batch
    /// records of one series share a message; an influx line with several fields is keyed by its first field's
    /// series, so those series share a partition. Waits until the cluster acknowledged everything.
    func runKafka(brokers: String, topic: String) throws {
        do {
            let producer = try KafkaProducer(brokers: brokers, settings: kafkaSettings.compactMap(parseKafkaSetting))
            defer { producer.close(flushTimeoutMs: 0) }
            var batcher = KeyedBatcher(producer: producer, topic: topic, batch: batch, rate: pace)
            if demo {
                let end = (Date().timeIntervalSince1970 / interval).rounded(.down) * interval
                let generator = DemoGenerator(series: series, points: points, interval: interval,
                                              start: end - Double(points - 1) * interval, seed: seed)
                for injection in generator.injections { writeStandardError("omen publish: \(injection)") }
                let encoder = PointEncoder(format: format.wire)
                var record: [UInt8] = []
                for point in generator {
                    record.removeAll(keepingCapacity: true)
                    encoder.append(point, to: &record)
                    try batcher.add(key: point.key, record: record)
                }
            } else {
                var fd: Int32 = 0
                if let file, file != "-" {
                    fd = open(file, O_RDONLY)
                    if fd < 0 { throw MessagingError.unreadableInput(path: file, reason: String(cString: strerror(errno))) }
                }
                defer { if fd != 0 { close(fd) } }
                var reader = LineBatchReader(fd: fd, linesPerBatch: 1)
                var parser = PayloadParser()
                var points: [Point] = []
                while let next = try reader.next() {
                    points.removeAll(keepingCapacity: true)
                    _ = parser.parse(next.payload, receivedAt: Date().timeIntervalSince1970, into: &points)
                    guard let first = points.first else {
                        batcher.skipped += 1
                        continue
                    }
                    var line = next.payload
                    while line.last == UInt8(ascii: "\n") || line.last == UInt8(ascii: "\r") { line.removeLast() }
                    try batcher.add(key: first.key, record: line)
                }
            }
            try batcher.finish()
            guard producer.flush(timeoutMs: 60_000), producer.failed == 0 else {
                writeStandardError("omen publish: \(producer.failed) messages not delivered to \(topic): "
                                   + "\(producer.lastFailure ?? "timed out after 60 s")")
                throw ExitCode.failure
            }
            let skipped = batcher.skipped > 0 ? " (\(batcher.skipped) lines without a record skipped)" : ""
            writeStandardError("omen publish: sent \(batcher.records) records in \(batcher.messages) messages "
                               + "to \(topic) on \(brokers)\(skipped)")
        } catch let error as KafkaError {
            writeStandardError("omen publish: \(error)")
            throw ExitCode.failure
        } catch let error as MessagingError {
            writeStandardError("omen publish: \(error)")
            throw ExitCode.failure
        }
    }
}

/// Groups records per series key into messages of up to `batch` records, newline-separated.
struct KeyedBatcher {
    let producer: KafkaProducer
    let topic: String
    let batch: Int
    var pacer: Pacer
    private var payloads: [String: (bytes: [UInt8], count: Int)] = [:]
    private(set) var records = 0
    private(set) var messages = 0
    var skipped = 0

    init(producer: KafkaProducer, topic: String, batch: Int, rate: Double) {
        self.producer = producer
        self.topic = topic
        self.batch = batch
        pacer = Pacer(rate: rate)
    }

    mutating func add(key: String, record: [UInt8]) throws {
        var entry = payloads[key] ?? ([], 0)
        if !entry.bytes.isEmpty && entry.bytes.last != UInt8(ascii: "\n") { entry.bytes.append(UInt8(ascii: "\n")) }
        entry.bytes.append(contentsOf: record)
        entry.count += 1
        if entry.count >= batch {
            try send(key: key, entry.bytes, entry.count)
            payloads.removeValue(forKey: key)
        } else {
            payloads[key] = entry
        }
    }

    mutating func finish() throws {
        for (key, entry) in payloads.sorted(by: { $0.key < $1.key }) { try send(key: key, entry.bytes, entry.count) }
        payloads.removeAll()
    }

    private mutating func send(key: String, _ bytes: [UInt8], _ count: Int) throws {
        try producer.send(topic: topic, key: Array(key.utf8), value: bytes)
        producer.poll()
        records += count
        messages += 1
        pacer.didSend(count)
    }
}

import CKafka
import Foundation

/// A change of the partitions a group consumer owns, handed to its rebalance handler.
public enum KafkaRebalance: Sendable, Equatable {
    /// These partitions are now ours; consumption starts from their committed offsets once the handler returns.
    case assigned([KafkaPartition])
    /// These partitions are taken away once the handler returns; `lost` means another member may already own them
    /// (session timed out), so nothing may be committed for them.
    case revoked([KafkaPartition], lost: Bool)
}

/// One consumed message, valid only inside the `poll` body that receives it.
public struct KafkaRecord {
    public var partition: KafkaPartition
    public var offset: Int64
    public var key: UnsafeRawBufferPointer
    public var payload: UnsafeRawBufferPointer
}

/// The rebalance handler, reached from librdkafka's C callback through the client's opaque pointer.
final class KafkaRebalanceBox {
    var handler: (KafkaRebalance) -> Void
    /// Set by the callback when a rebalance call failed, for the next `poll` to report.
    var failure: KafkaError?

    init(handler: @escaping (KafkaRebalance) -> Void) { self.handler = handler }
}

/// A member of a consumer group. Not thread-safe: create it, poll it and close it on one thread. The rebalance
/// handler runs inside `poll` on that thread, before librdkafka changes the assignment, so work done in it
/// (restoring state, committing offsets) completes before the first message of an assigned partition is
/// returned or after the last message of a revoked one.
///
/// Offsets are committed only by `commit`: `enable.auto.commit` and `enable.auto.offset.store` are off.
public final class KafkaConsumer {
    private let handle: OpaquePointer
    private let box: KafkaRebalanceBox
    private var closed = false
    /// "COOPERATIVE" or "EAGER" once the group formed ("NONE" before).
    public var rebalanceProtocol: String { String(cString: rd_kafka_rebalance_protocol(handle)) }

    public init(brokers: String, group: String, settings: [(String, String)] = [],
                onRebalance: @escaping (KafkaRebalance) -> Void) throws(KafkaError) {
        let box = KafkaRebalanceBox(handler: onRebalance)
        self.box = box
        let defaults: [(String, String)] = [
            ("bootstrap.servers", brokers),
            ("group.id", group),
            ("partition.assignment.strategy", "cooperative-sticky"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
        ]
        let conf = try makeKafkaConf(defaults + settings)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(box).toOpaque())
        rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
            guard let rk, let opaque else { return }
            let box = Unmanaged<KafkaRebalanceBox>.fromOpaque(opaque).takeUnretainedValue()
            let list = partitions?.pointee.partitions ?? []
            let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
            var error: OpaquePointer? = nil
            switch err {
            case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
                box.handler(.assigned(list))
                if cooperative {
                    error = rd_kafka_incremental_assign(rk, partitions)
                } else if rd_kafka_assign(rk, partitions) != RD_KAFKA_RESP_ERR_NO_ERROR {
                    box.failure = KafkaError(operation: "assign", reason: "librdkafka refused the assignment")
                }
            case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
                box.handler(.revoked(list, lost: rd_kafka_assignment_lost(rk) != 0))
                if cooperative {
                    error = rd_kafka_incremental_unassign(rk, partitions)
                } else {
                    rd_kafka_assign(rk, nil)
                }
            default:
                box.handler(.revoked(list, lost: true))
                rd_kafka_assign(rk, nil)
                box.failure = KafkaError.code(err, "rebalance")
            }
            if let error {
                box.failure = KafkaError(operation: "rebalance", reason: String(cString: rd_kafka_error_string(error)))
                rd_kafka_error_destroy(error)
            }
        }
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(operation: "create a consumer for \(brokers)", reason: kafkaString(errstr))
        }
        handle = rk
        rd_kafka_poll_set_consumer(rk)
    }

    deinit {
        if !closed { rd_kafka_destroy(handle) }
    }

    /// Joins the group for `topics`.
    public func subscribe(_ topics: [String]) throws(KafkaError) {
        let list = makePartitionList(topics.map { (KafkaPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA), 0) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_subscribe(handle, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.code(err, "subscribe to \(topics.joined(separator: ", "))") }
    }

    /// Waits up to `timeoutMs` for one message and hands it to `body`; returns false when none came. Rebalances
    /// run their handler inside this call. Client-level errors (a broker down) are returned in `errors` and are
    /// not fatal: librdkafka retries on its own.
    public func poll(timeoutMs: Int32, errors: inout [KafkaError], _ body: (KafkaRecord) -> Void) -> Bool {
        let message = rd_kafka_consumer_poll(handle, timeoutMs)
        if let failure = box.failure {
            errors.append(failure)
            box.failure = nil
        }
        guard let message else { return false }
        defer { rd_kafka_message_destroy(message) }
        let m = message.pointee
        if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            if m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "consumer"
                errors.append(KafkaError.code(m.err, "consume \(topic)"))
            }
            return false
        }
        let topic = String(cString: rd_kafka_topic_name(m.rkt))
        body(KafkaRecord(
            partition: KafkaPartition(topic: topic, partition: m.partition), offset: m.offset,
            key: UnsafeRawBufferPointer(start: m.key, count: m.key_len),
            payload: UnsafeRawBufferPointer(start: m.payload, count: m.len)))
        return true
    }

    /// Commits the next offsets to read (last consumed + 1) for these partitions, waiting for the answer.
    public func commit(_ offsets: [KafkaPartition: Int64]) throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        let list = makePartitionList(offsets.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_commit(handle, list, 0)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET {
            throw KafkaError.code(err, "commit offsets")
        }
    }

    /// The committed offsets of `partitions` (-1001 = none committed yet).
    public func committed(_ partitions: [KafkaPartition], timeoutMs: Int32 = 10_000) throws(KafkaError) -> [KafkaPartition: Int64] {
        let list = makePartitionList(partitions.map { ($0, Int64(RD_KAFKA_OFFSET_INVALID)) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_committed(handle, list, timeoutMs)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.code(err, "read committed offsets") }
        var out: [KafkaPartition: Int64] = [:]
        for i in 0..<Int(list.pointee.cnt) {
            let e = list.pointee.elems[i]
            out[KafkaPartition(topic: String(cString: e.topic), partition: e.partition)] = e.offset
        }
        return out
    }

    /// The partitions this member owns now.
    public func assignment() -> [KafkaPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>? = nil
        guard rd_kafka_assignment(handle, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return list.pointee.partitions
    }

    /// Leaves the group (the handler sees the final revocation) and releases the client.
    public func close() {
        guard !closed else { return }
        closed = true
        rd_kafka_consumer_close(handle)
        rd_kafka_destroy(handle)
        withExtendedLifetime(box) {}
    }
}

/// Reads one partition from its start to its current end, outside any group (the changelog on assignment).
/// Not thread-safe: one owner thread.
public final class KafkaPartitionReader {
    private let handle: OpaquePointer

    public init(brokers: String, settings: [(String, String)] = []) throws(KafkaError) {
        let defaults: [(String, String)] = [
            ("bootstrap.servers", brokers),
            ("enable.partition.eof", "false"),
        ]
        let conf = try makeKafkaConf(defaults + settings)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(operation: "create a reader for \(brokers)", reason: kafkaString(errstr))
        }
        handle = rk
    }

    deinit { rd_kafka_destroy(handle) }

    /// The offset the next message of `partition` will get (its high watermark).
    public func endOffset(_ partition: KafkaPartition, timeoutMs: Int32 = 10_000) throws(KafkaError) -> Int64 {
        var low: Int64 = 0, high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(handle, partition.topic, partition.partition, &low, &high, timeoutMs)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.code(err, "read the end offset of \(partition)") }
        return high
    }

    /// Hands every message of `partition` below its high watermark to `body` (key, value; value nil for a
    /// tombstone), in offset order. Returns the number read; throws if the end was not reached within `timeoutMs`.
    @discardableResult
    public func readToEnd(_ partition: KafkaPartition, timeoutMs: Int,
                          _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) throws(KafkaError) -> Int {
        var low: Int64 = 0, high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(handle, partition.topic, partition.partition, &low, &high,
                                                   Int32(min(timeoutMs, Int(Int32.max))))
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.code(err, "read the end offset of \(partition)") }
        if high <= low { return 0 }
        guard let rkt = rd_kafka_topic_new(handle, partition.topic, nil) else {
            throw KafkaError.code(rd_kafka_last_error(), "open topic \(partition.topic)")
        }
        defer { rd_kafka_topic_destroy(rkt) }
        if rd_kafka_consume_start(rkt, partition.partition, low) != 0 {
            throw KafkaError.code(rd_kafka_last_error(), "read \(partition)")
        }
        defer { rd_kafka_consume_stop(rkt, partition.partition) }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeoutMs) * 1_000_000
        var next = low, count = 0
        while next < high {
            guard DispatchTime.now().uptimeNanoseconds < deadline else {
                throw KafkaError(operation: "read \(partition)",
                                 reason: "reached offset \(next) of \(high) within \(timeoutMs) ms")
            }
            guard let message = rd_kafka_consume(rkt, partition.partition, 100) else { continue }
            defer { rd_kafka_message_destroy(message) }
            let m = message.pointee
            if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { break }
                throw KafkaError.code(m.err, "read \(partition)")
            }
            next = m.offset + 1
            count += 1
            let key = UnsafeRawBufferPointer(start: m.key, count: m.key_len)
            let value = m.payload.map { UnsafeRawBufferPointer(start: $0, count: m.len) }
            body(key, value)
        }
        return count
    }
}

import CKafka
import Foundation
import Synchronization

/// Delivery reports, counted by librdkafka's callback (which runs inside `poll`/`flush` on the caller's thread).
final class KafkaDeliveryCounters: Sendable {
    let delivered = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let lastFailure = Mutex<String?>(nil)
}

/// A Kafka producer. librdkafka's producer is thread-safe, so one instance may be shared by several threads
/// (the daemon's ingest thread writes checkpoints with it while its writer thread writes alerts).
///
/// Keyed messages go to the partition librdkafka's partitioner picks for the key; Omen sets `murmur2_random`,
/// the Java client's partitioner, so a series lands in the same partition whichever client produced it.
public final class KafkaProducer: @unchecked Sendable {
    private let handle: OpaquePointer
    private let counters: KafkaDeliveryCounters
    private let topics = Mutex<[String: OpaquePointer]>([:])
    private let closed = Atomic<Bool>(false)
    /// The bootstrap servers, for messages.
    public let brokers: String

    /// Connects lazily to `brokers` (comma-separated host:port); `settings` are librdkafka properties that override
    /// Omen's defaults.
    public init(brokers: String, settings: [(String, String)] = []) throws(KafkaError) {
        self.brokers = brokers
        let counters = KafkaDeliveryCounters()
        self.counters = counters
        let defaults: [(String, String)] = [
            ("bootstrap.servers", brokers),
            ("partitioner", "murmur2_random"),
            ("linger.ms", "5"),
            ("enable.idempotence", "true"),
        ]
        let conf = try makeKafkaConf(defaults + settings)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(counters).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
            guard let message, let opaque else { return }
            let counters = Unmanaged<KafkaDeliveryCounters>.fromOpaque(opaque).takeUnretainedValue()
            if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                counters.delivered.wrappingAdd(1, ordering: .relaxed)
            } else {
                counters.failed.wrappingAdd(1, ordering: .relaxed)
                let why = String(cString: rd_kafka_err2str(message.pointee.err))
                counters.lastFailure.withLock { $0 = why }
            }
        }
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(operation: "create a producer for \(brokers)", reason: kafkaString(errstr))
        }
        handle = rk
    }

    deinit { close(flushTimeoutMs: 0) }

    /// Messages acknowledged by the cluster since start.
    public var delivered: Int { counters.delivered.load(ordering: .relaxed) }
    /// Messages the cluster refused or that timed out since start.
    public var failed: Int { counters.failed.load(ordering: .relaxed) }
    /// Why the last failed message failed.
    public var lastFailure: String? { counters.lastFailure.withLock { $0 } }
    /// Messages still queued or in flight.
    public var outstanding: Int { Int(rd_kafka_outq_len(handle)) }

    private func topicHandle(_ name: String) throws(KafkaError) -> OpaquePointer {
        let result: OpaquePointer? = topics.withLock { cache in
            if let t = cache[name] { return t }
            guard let t = rd_kafka_topic_new(handle, name, nil) else { return nil }
            cache[name] = t
            return t
        }
        guard let result else { throw KafkaError.code(rd_kafka_last_error(), "open topic \(name)") }
        return result
    }

    /// Queues one message; `partition` nil lets the partitioner choose by key. A full local queue makes this wait
    /// (serving delivery reports) up to `timeoutMs` for room, then throw. A nil `value` is a tombstone.
    public func send(topic: String, key: [UInt8], value: [UInt8]?, partition: Int32? = nil,
                     timeoutMs: Int = 30_000) throws(KafkaError) {
        let rkt = try topicHandle(topic)
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeoutMs) * 1_000_000
        while true {
            let rc = key.withUnsafeBytes { k -> Int32 in
                if let value {
                    return value.withUnsafeBytes { v in
                        rd_kafka_produce(rkt, partition ?? RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                         UnsafeMutableRawPointer(mutating: v.baseAddress), v.count,
                                         k.baseAddress, k.count, nil)
                    }
                }
                return rd_kafka_produce(rkt, partition ?? RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, nil, 0,
                                        k.baseAddress, k.count, nil)
            }
            if rc == 0 { return }
            let err = rd_kafka_last_error()
            guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL, DispatchTime.now().uptimeNanoseconds < deadline else {
                throw KafkaError.code(err, "produce to \(topic)")
            }
            rd_kafka_poll(handle, 10)
        }
    }

    /// Serves delivery reports for up to `timeoutMs`.
    public func poll(timeoutMs: Int32 = 0) {
        rd_kafka_poll(handle, timeoutMs)
    }

    /// Waits until every queued message is delivered or failed, up to `timeoutMs`; false on timeout.
    @discardableResult
    public func flush(timeoutMs: Int32) -> Bool {
        rd_kafka_flush(handle, timeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR
    }

    /// Partitions of `topic`; 0 when the topic does not exist.
    public func partitionCount(topic: String, timeoutMs: Int32 = 10_000) throws(KafkaError) -> Int {
        var errstr = [CChar](repeating: 0, count: 512)
        let n = omen_kafka_partition_count(handle, topic, timeoutMs, &errstr, errstr.count)
        if n < 0 { throw KafkaError(operation: "read the metadata of \(topic)", reason: kafkaString(errstr)) }
        return Int(n)
    }

    /// Creates `topic` (compacted when `compact`); false when it already existed.
    @discardableResult
    public func createTopic(_ topic: String, partitions: Int, compact: Bool,
                            timeoutMs: Int32 = 10_000) throws(KafkaError) -> Bool {
        var errstr = [CChar](repeating: 0, count: 512)
        let rc = omen_kafka_create_topic(handle, topic, Int32(partitions), compact ? 1 : 0, timeoutMs, &errstr, errstr.count)
        if rc < 0 { throw KafkaError(operation: "create topic \(topic)", reason: kafkaString(errstr)) }
        return rc == 0
    }

    /// Delivers what is queued (up to `flushTimeoutMs`) and releases the client. Idempotent.
    public func close(flushTimeoutMs: Int32 = 10_000) {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        if flushTimeoutMs > 0 { rd_kafka_flush(handle, flushTimeoutMs) }
        topics.withLock { cache in
            for t in cache.values { rd_kafka_topic_destroy(t) }
            cache.removeAll()
        }
        rd_kafka_destroy(handle)
        withExtendedLifetime(counters) {}
    }
}

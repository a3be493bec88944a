// A thin librdkafka wrapper: a producer (thread-safe), a group consumer (one owner thread) and a partition
// reader (one owner thread), with errors thrown as `KafkaError`, never trapped.
import CKafka
import Foundation

/// A librdkafka call failed; the description names what was attempted and librdkafka's reason.
public struct KafkaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being attempted, e.g. "produce to metrics".
    public var operation: String
    /// librdkafka's own text.
    public var reason: String

    public init(operation: String, reason: String) {
        self.operation = operation
        self.reason = reason
    }

    static func code(_ err: rd_kafka_resp_err_t, _ operation: String) -> KafkaError {
        KafkaError(operation: operation, reason: String(cString: rd_kafka_err2str(err)))
    }

    public var description: String { "\(operation) failed: \(reason)" }
}

/// One partition of one topic.
public struct KafkaPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (a: KafkaPartition, b: KafkaPartition) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// librdkafka's version string (e.g. "2.0.2").
public var kafkaLibraryVersion: String { String(cString: rd_kafka_version_str()) }

/// Builds an `rd_kafka_conf_t` from name/value pairs, later pairs overriding earlier ones.
func makeKafkaConf(_ settings: [(String, String)]) throws(KafkaError) -> OpaquePointer {
    guard let conf = rd_kafka_conf_new() else { throw KafkaError(operation: "configure", reason: "out of memory") }
    var errstr = [CChar](repeating: 0, count: 512)
    for (name, value) in settings {
        let rc = rd_kafka_conf_set(conf, name, value, &errstr, errstr.count)
        if rc != RD_KAFKA_CONF_OK {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(operation: "setting \(name)=\(value)", reason: kafkaString(errstr))
        }
    }
    return conf
}

func kafkaString(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// "a=b" → ("a", "b"); the client settings of config files and flags are written this way.
public func parseKafkaSetting(_ text: String) -> (String, String)? {
    guard let eq = text.firstIndex(of: "="), eq != text.startIndex else { return nil }
    let name = text[..<eq].trimmingCharacters(in: .whitespaces)
    let value = text[text.index(after: eq)...].trimmingCharacters(in: .whitespaces)
    guard !name.isEmpty else { return nil }
    return (name, value)
}

extension rd_kafka_topic_partition_list_t {
    /// The partitions of a list, in order.
    var partitions: [KafkaPartition] {
        (0..<Int(cnt)).map { i in
            KafkaPartition(topic: String(cString: elems[i].topic), partition: elems[i].partition)
        }
    }
}

/// A C partition list built from Swift values; the caller destroys it.
func makePartitionList(_ offsets: [(KafkaPartition, Int64)]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
    let list = rd_kafka_topic_partition_list_new(Int32(max(1, offsets.count)))!
    for (p, offset) in offsets {
        let element = rd_kafka_topic_partition_list_add(list, p.topic, p.partition)
        element?.pointee.offset = offset
    }
    return list
}

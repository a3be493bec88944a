import CKafka
import Foundation

/// librdkafka's built-in mock cluster: brokers on 127.0.0.1 inside this process, with topics, consumer groups
/// and offset commits. For tests and `omen bench kafka`; no broker package is needed.
///
/// Keep the consumers of a mock cluster in other processes: `rd_kafka_destroy` of a closed consumer hung in the
/// process that hosted the cluster (librdkafka 2.0.2).
public final class KafkaMockCluster: @unchecked Sendable {
    private let owner: OpaquePointer
    private let cluster: OpaquePointer
    /// The bootstrap servers of the mock brokers, e.g. "127.0.0.1:40123,127.0.0.1:40125".
    public let brokers: String

    public init(brokers count: Int) throws(KafkaError) {
        // The mock cluster needs a client instance to live in; a producer without brokers is the lightest.
        let conf = try makeKafkaConf([("log_level", "3")])
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(operation: "create the mock cluster's client", reason: kafkaString(errstr))
        }
        guard let mc = rd_kafka_mock_cluster_new(rk, Int32(count)) else {
            rd_kafka_destroy(rk)
            throw KafkaError(operation: "start a mock cluster of \(count) brokers", reason: "rd_kafka_mock_cluster_new failed")
        }
        owner = rk
        cluster = mc
        brokers = String(cString: rd_kafka_mock_cluster_bootstraps(mc))
    }

    /// Creates `topic` with `partitions` partitions (replication factor 1).
    public func createTopic(_ topic: String, partitions: Int) throws(KafkaError) {
        let err = rd_kafka_mock_topic_create(cluster, topic, Int32(partitions), 1)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.code(err, "create mock topic \(topic)") }
    }

    /// Stops the brokers.
    public func shutdown() {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(owner)
    }
}

import Messaging

/// One Kafka consumer group the daemon joins (`[[kafka]]`): the topics it reads points from, and where the state of
/// the series of each partition is kept while another instance may take it over.
public struct KafkaConfig: Sendable, Equatable {
    /// Bootstrap servers, comma-separated `host:port`.
    public var brokers: String
    /// Input topics; messages are keyed by series key, so a series always lands in one partition.
    public var topics: [String] = []
    /// Consumer group id: every instance of one deployment uses the same.
    public var group: String = "omen"
    /// The wire format of the messages; nil (`"auto"` in the file) detects it per record.
    public var format: WireFormat? = nil
    /// The compacted changelog topic of the series' checkpoints; empty = `<topic>.omen-state`. Only with one topic.
    public var changelogTopic: String = ""
    /// Topic that every instance also produces its alerts to (key = series key, value = the alert JSON); empty = none.
    public var alertsTopic: String = ""
    /// librdkafka properties passed through to the clients, as "name=value" (e.g. "session.timeout.ms=6000").
    public var settings: [String] = []
    /// Seconds between checkpoints of changed series to the changelog, each followed by a commit of the input
    /// offsets it covers.
    public var commitInterval: Double = 5
    /// Create a missing changelog topic (compacted, as many partitions as its input topic) at start.
    public var createTopics: Bool = true

    public init(brokers: String) {
        self.brokers = brokers
    }

    /// The changelog topic of input `topic`.
    public func changelog(for topic: String) -> String {
        changelogTopic.isEmpty ? topic + ".omen-state" : changelogTopic
    }

    /// `settings` as (name, value) pairs.
    public var clientSettings: [(String, String)] {
        settings.compactMap { entry in
            guard let eq = entry.firstIndex(of: "=") else { return nil }
            return (String(entry[..<eq]), String(entry[entry.index(after: eq)...]))
        }
    }
}

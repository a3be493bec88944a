import Messaging

extension KafkaConfig {
    /// `[[kafka]]`: a consumer group, its input topics and its changelog.
    static var configKeys: [ConfigKey<KafkaConfig>] {
        [
            .string("brokers", \.brokers),
            .strings("topics", \.topics, minCount: 1, allowEmptyStrings: false),
            .string("group", \.group),
            .choice("format", \.format, none: "auto"),
            .string("changelog_topic", \.changelogTopic, allowEmpty: true),
            .string("alerts_topic", \.alertsTopic, allowEmpty: true),
            .strings("settings", \.settings, minCount: 0, allowEmptyStrings: false),
            .duration("commit_interval", \.commitInterval, .closed(0.1, 3600)),
            .flag("create_topics", \.createTopics),
        ]
    }

    /// Checks that need more than one key; `fail(key, reason)` builds the error at the key's line.
    static func validate(_ all: [KafkaConfig], ingest: [IngestEndpointConfig],
                         fail: (_ key: String, _ reason: String) -> ConfigError) throws(ConfigError) {
        guard let kafka = all.first else { return }
        if all.count > 1 {
            throw fail("kafka", "one [[kafka]] table is supported; list several topics in its `topics` instead")
        }
        if !ingest.isEmpty {
            throw fail("kafka", "a daemon reads either [[ingest]] ZeroMQ endpoints or a [[kafka]] group, not both: "
                       + "with Kafka the group decides which instance owns a series; remove the [[ingest]] tables")
        }
        if kafka.brokers.isEmpty { throw fail("kafka.brokers", "must list the bootstrap servers, e.g. \"kafka1:9092,kafka2:9092\"") }
        if kafka.topics.isEmpty { throw fail("kafka.topics", "must list at least one input topic, e.g. [\"metrics\"]") }
        if !kafka.changelogTopic.isEmpty && kafka.topics.count > 1 {
            throw fail("kafka.changelog_topic", "can only be set with one input topic (each topic needs its own changelog, "
                       + "named <topic>.omen-state when this is left out)")
        }
        for topic in kafka.topics where kafka.topics.contains(kafka.changelog(for: topic)) || topic == kafka.alertsTopic {
            throw fail("kafka.topics", "\"\(topic)\" is also the changelog or alerts topic; each needs its own topic")
        }
        for entry in kafka.settings {
            guard let eq = entry.firstIndex(of: "="), eq != entry.startIndex else {
                throw fail("kafka.settings", "entries are \"name=value\" librdkafka properties, got \"\(entry)\"")
            }
            let name = String(entry[..<eq])
            if ["bootstrap.servers", "group.id", "enable.auto.commit", "enable.auto.offset.store"].contains(name) {
                throw fail("kafka.settings", "\(name) is set by Omen (brokers, group, and its own commits); remove it")
            }
        }
    }
}

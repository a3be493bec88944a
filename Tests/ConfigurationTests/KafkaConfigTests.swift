import Foundation
import Testing
@testable import Configuration

@Suite("Kafka config")
struct KafkaConfigTests {
    private static func deployConfig(_ n: Int) -> URL {
        ConfigTestSupport.repositoryRoot().appendingPathComponent("deploy/kafka/omen-\(n).toml")
    }

    /// Each deploy/kafka instance config parses, reads Kafka instead of ZeroMQ, sets every [[kafka]] key, and the
    /// three differ only in their alert endpoint.
    @Test func deploymentConfigsParseAndDocumentEveryKey() throws {
        var alerts: Set<[String]> = []
        for n in 1...3 {
            let config = try ConfigLoader.load(path: Self.deployConfig(n).path)
            #expect(config.ingest.isEmpty)
            let kafka = try #require(config.kafka.first)
            #expect(config.kafka.count == 1 && kafka.topics == ["metrics"] && kafka.group == "omen")
            #expect(kafka.changelog(for: "metrics") == "metrics.omen-state")
            #expect(kafka.clientSettings.first! == ("session.timeout.ms", "10000"))
            alerts.insert(config.alerts.endpoints)
            let document = try TOMLParser.parse(try String(contentsOf: Self.deployConfig(n), encoding: .utf8), file: "x")
            let keys = Set(document.sections.filter { $0.name == "kafka" }.flatMap { $0.entries.map(\.key) })
            #expect(keys == Set(KafkaConfig.configKeys.map(\.name)))
        }
        #expect(alerts.count == 3)
    }

    /// A file cannot mix ZeroMQ ingest with a Kafka group: which instance owns a series would be unclear.
    @Test func ingestAndKafkaTogetherAreRefused() {
        #expect(throws: ConfigError.self) {
            try ConfigLoader.parse("""
                [[ingest]]
                endpoint = "tcp://127.0.0.1:7001"
                [[kafka]]
                brokers = "k:9092"
                topics = ["m"]
                """, file: "omen.toml")
        }
    }

    /// Settings must be name=value, must not override what Omen sets, and there is one [[kafka]] table.
    @Test func badKafkaTablesAreRefusedWithTheirLine() throws {
        let cases = [
            ("[[kafka]]\nbrokers = \"k:9092\"\ntopics = [\"m\"]\nsettings = [\"nonsense\"]\n", 4),
            ("[[kafka]]\nbrokers = \"k:9092\"\ntopics = [\"m\"]\nsettings = [\"group.id=x\"]\n", 4),
            ("[[kafka]]\nbrokers = \"k:9092\"\n", nil),
            ("[[kafka]]\nbrokers = \"k:9092\"\ntopics = [\"a\", \"b\"]\nchangelog_topic = \"s\"\n", 4),
            ("[[kafka]]\nbrokers = \"k:9092\"\ntopics = [\"m\"]\n[[kafka]]\nbrokers = \"k:9092\"\ntopics = [\"n\"]\n", nil),
        ]
        for (text, line) in cases {
            do {
                _ = try ConfigLoader.parse(text, file: "omen.toml")
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.line == line, "\(error)")
            }
        }
        let ok = try ConfigLoader.parse("[[kafka]]\nbrokers = \"k:9092\"\ntopics = [\"m\"]\ncommit_interval = \"2s\"\n", file: "omen.toml")
        #expect(ok.ingest.isEmpty && ok.kafka.first?.commitInterval == 2)
    }
}

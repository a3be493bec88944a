import Messaging

extension IngestEndpointConfig {
    /// `[[ingest]]`: one SUB socket per table.
    static var configKeys: [ConfigKey<IngestEndpointConfig>] {
        [
            .endpoint("endpoint", \.endpoint),
            .choice("mode", \.mode),
            .choice("format", \.format, none: "auto"),
            .strings("subscribe", \.subscribe, minCount: 1, allowEmptyStrings: true),
            .integer("receive_hwm", \.receiveHighWaterMark, 0...Int32.max),
        ]
    }
}

extension AlertsConfig {
    /// `[alerts]`: the PUB socket alerts go out on.
    static var configKeys: [ConfigKey<AlertsConfig>] {
        [
            .endpoints("endpoints", \.endpoints),
            .choice("mode", \.mode),
            .integer("send_hwm", \.sendHighWaterMark, 0...Int32.max),
        ]
    }
}

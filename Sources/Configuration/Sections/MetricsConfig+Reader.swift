import Detection

extension MetricsConfig {
    /// `[metrics]`: the HTTP listener of `/metrics` and `/health`.
    static var configKeys: [ConfigKey<MetricsConfig>] {
        [
            ConfigKey("listen") { (root: inout MetricsConfig, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
                let text = try readString(value, allowEmpty: true, ctx)
                if !text.isEmpty && MetricsConfig.parse(text) == nil {
                    throw ctx.error(.badValue, value, "must be HOST:PORT (port 1-65535, IPv6 as [::1]:9464) or \"\" "
                        + "to turn the listener off, got \(value.rendered)")
                }
                root.listen = text
            },
        ]
    }
}

extension FeedbackConfig {
    /// `[feedback]`: how `omen label ID --not-anomaly` changes a series' scores.
    static var configKeys: [ConfigKey<FeedbackConfig>] {
        [
            .number("tolerance", \.tolerance, .closed(0, 10)),
            .duration("half_life", \.halfLife, .closed(0, 3650 * 86_400)),
        ]
    }
}

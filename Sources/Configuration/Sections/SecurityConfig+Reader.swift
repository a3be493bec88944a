extension SecurityConfig {
    /// `[security]`: CURVE keys and the plain-TCP escape hatch.
    static var configKeys: [ConfigKey<SecurityConfig>] {
        [
            ConfigKey("secret_key") {
                (root: inout SecurityConfig, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
                root.secretKey = try readString(value, allowEmpty: false, ctx)
            },
            ConfigKey("allowed_clients") {
                (root: inout SecurityConfig, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
                root.allowedClients = try readString(value, allowEmpty: false, ctx)
            },
            .flag("allow_insecure", \.allowInsecure),
        ]
    }

    /// Cross-key rules: the two key settings go together, and plain TCP off loopback needs `allow_insecure`.
    static func validate(
        _ config: DaemonConfig, fail: (ConfigError.Kind, String, [String], String) -> ConfigError
    ) throws(ConfigError) {
        let security = config.security
        if security.secretKey != nil && security.allowedClients == nil {
            throw fail(
                .missingKey, "security.allowed_clients", ["security.secret_key"],
                "is needed with secret_key: a directory of the public certificates of the clients allowed to connect (a CURVE server alone accepts any client key)"
            )
        }
        if security.allowedClients != nil && security.secretKey == nil {
            throw fail(
                .missingKey, "security.secret_key", ["security.allowed_clients"],
                "is needed with allowed_clients: the daemon's secret certificate (omen keys generate NAME writes one)")
        }
        let exposed = config.nonLoopbackEndpoints
        if !security.isEnabled && !security.allowInsecure, let first = exposed.first {
            let line =
                config.ingest.firstIndex { $0.endpoint == first }.map { "ingest[\($0)].endpoint" } ?? "alerts.endpoints"
            throw fail(
                .inconsistent, "security", [line],
                "\(TOMLValue.quoted(first)) is not a loopback address, and without [security] anyone who can reach it may write any series and read every alert; set [security] secret_key and allowed_clients (omen keys generate), or allow_insecure = true to accept that"
            )
        }
    }
}

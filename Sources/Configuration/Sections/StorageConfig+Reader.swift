extension StorageConfig {
    /// `[storage]`: the SQLite file, write batching, checkpoints and retention.
    static var configKeys: [ConfigKey<StorageConfig>] {
        [
            .string("database", \.database),
            .duration("flush_interval", \.flushInterval, .closed(0.001, 60)),
            .integer("flush_rows", \.flushRows, 1...1_000_000),
            .duration("checkpoint_interval", \.checkpointInterval, .closed(1, 7 * 86_400)),
            .number("retention_days", \.retentionDays, .closed(0, 36_500)),
            .duration("stop_timeout", \.stopTimeout, .closed(1, 3600)),
        ]
    }
}

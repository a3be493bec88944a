import Logging

extension DaemonConfig {
    /// `[daemon]`: log level, the pipeline's threads and its heartbeat.
    static var daemonSectionKeys: [ConfigKey<DaemonConfig>] {
        [
            .choice("log_level", \.logLevel),
            .integer("shards", \.pipeline.shards, 0...1024),
            .integer("trainers", \.pipeline.trainers, 0...256),
            .number("training_share", \.pipeline.trainingShare, .closed(0, 0.9)),
            .duration("stats_interval", \.pipeline.statsInterval, .closed(0.1, 3600)),
        ]
    }
}

import Logging

extension DaemonConfig {
    /// `[daemon]`: log level and the pipeline's threads, queues and heartbeat.
    static var daemonSectionKeys: [ConfigKey<DaemonConfig>] {
        [
            .choice("log_level", \.logLevel),
            .integer("shards", \.pipeline.shards, 0...1024),
            .integer("trainers", \.pipeline.trainers, 0...256),
            .integer("training_queue_limit", \.pipeline.trainingQueueLimit, 1...10_000_000),
            .duration("stats_interval", \.pipeline.statsInterval, .closed(0.1, 3600)),
        ]
    }
}

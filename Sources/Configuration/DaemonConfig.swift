import Detection
import Logging
import Messaging

/// One ZeroMQ SUB endpoint that metrics arrive on.
public struct IngestEndpointConfig: Sendable, Equatable {
    /// ZeroMQ endpoint, e.g. `tcp://127.0.0.1:7001` or `ipc:///run/omen/ingest`.
    public var endpoint: String
    public var mode: SocketMode = .bind
    /// The wire format the endpoint expects; nil (`"auto"` in the file) detects it per record.
    public var format: WireFormat? = nil
    /// Subscription prefixes; [""] subscribes to everything.
    public var subscribe: [String] = [""]
    /// Receive high-water mark in messages (0 = unlimited). Messages past it are dropped by libzmq silently; finite
    /// by default so that a flood cannot grow memory without bound while ingest waits for busy shards.
    public var receiveHighWaterMark: Int32 = 10_000

    public init(endpoint: String) {
        self.endpoint = endpoint
    }
}

/// The ZeroMQ PUB endpoints alerts are published on.
public struct AlertsConfig: Sendable, Equatable {
    public var endpoints: [String] = ["tcp://127.0.0.1:7002"]
    public var mode: SocketMode = .bind
    /// Send high-water mark per subscriber; a slow subscriber loses alerts past it (PUB semantics).
    public var sendHighWaterMark: Int32 = 10_000

    public init() {}
}

/// Storage: the SQLite file and how often it is written.
public struct StorageConfig: Sendable, Equatable {
    public var database: String = "./omen.db"
    /// The writer commits at least this often, in seconds.
    public var flushInterval: Double = 0.25
    /// … or when this many rows are pending.
    public var flushRows: Int = 1000
    /// Seconds between checkpoints of every series' model and state (also written on shutdown).
    public var checkpointInterval: Double = 300
    /// Closed episodes older than this many days are deleted (0 = keep forever).
    public var retentionDays: Double = 0
    /// Seconds a graceful stop may spend draining the shards and writing the final checkpoints; series not
    /// written by then keep their previous checkpoint (the most-changed are written first).
    public var stopTimeout: Double = 15
    /// Checkpoint every series on graceful shutdown (benchmarks turn it off; not a file key).
    public var checkpointOnShutdown: Bool = true

    public init() {}
}

/// Threads and queues of the pipeline.
public struct PipelineConfig: Sendable, Equatable {
    /// Shard workers that own series (0 = one per core).
    public var shards: Int = 0
    /// Background trainer threads (0 = max(1, cores / 2)).
    public var trainers: Int = 0
    /// Share of a shard's busy time it may spend training due series itself while every trainer thread is busy
    /// (0 = never): under saturation the trainers (nice 10) can get no CPU, and new series would never get a model.
    public var trainingShare: Double = 0.1
    /// Seconds between watchdog heartbeats / stats log lines.
    public var statsInterval: Double = 10

    public init() {}
}

/// A per-series override of the alerting sensitivity, chosen by key glob (first match wins).
public struct SeriesOverride: Sendable, Equatable {
    /// Glob over series keys: `*` any run, `?` one character.
    public var pattern: String
    public var threshold: Double?
    public var closeAfter: Int?
    public var refractory: Int?

    public init(pattern: String) {
        self.pattern = pattern
    }
}

/// The whole daemon configuration, as read from `omen.toml` and overridden by flags.
public struct DaemonConfig: Sendable, Equatable {
    public var ingest: [IngestEndpointConfig] = [IngestEndpointConfig(endpoint: "tcp://127.0.0.1:7001")]
    public var alerts = AlertsConfig()
    /// `[[kafka]]`: a consumer group to read points from instead of ZeroMQ (at most one; empty = none).
    public var kafka: [KafkaConfig] = []
    public var storage = StorageConfig()
    public var pipeline = PipelineConfig()
    public var limits = LimitsConfig()
    public var detector = DetectorConfig()
    public var overrides: [SeriesOverride] = []
    public var logLevel: Logger.Level = .info
    public var security = SecurityConfig()
    public var clock = ClockConfig()

    public init() {}
}

import Configuration
import Detection
import Foundation
import History
import Logging
import Messaging
import ServiceLifecycle

/// The daemon: storage, shards and trainers, ingest — built from a configuration, run as a service group.
///
/// Data flows one way: ingest → shards (score, episode, step) → writer (SQLite, then alert PUB).
/// Trainers sit beside the shards. Shutdown runs in reverse: ingest stops first, the shards drain their
/// mailboxes and checkpoint every series, then the writer flushes and closes the database.
public final class OmenDaemon: Sendable {
    public let config: DaemonConfig
    public let stats = PipelineStats()
    let logger: Logger
    let notifier: SystemdNotifier
    let store: Store
    /// The exclusive lock on the database (`FILE.lock`), held until the process exits.
    let databaseLock: DatabaseLock
    /// The database file as opened, to notice it being deleted or replaced.
    let databaseIdentity: FileIdentity
    /// CURVE keys and allowed clients when `[security]` is on.
    let security: DaemonSecurity?
    let alertContext: ZMQContext
    let ingestContext: ZMQContext
    let writer: Writer
    let trainers: TrainerPool
    let shards: [Shard]
    /// Which shard owns a series (the same rule ingest routes points by).
    let router: ShardRouter
    let ingest: Ingest
    /// Restores evicted series off the shards' threads (`limits.idle_after`).
    let loader: SeriesLoader
    /// The Kafka consumer group member (`[[kafka]]`), nil for ZeroMQ-only ingest.
    let kafka: KafkaIngest?
    let kafkaProducer: KafkaProducer?
    let latency = LatencyRecorder()
    /// Where the configuration came from, for SIGHUP reloads (nil when built from flags only).
    let configPath: String?
    /// The shared log level a reload changes (nil when the caller's logger is not reloadable).
    let logLevel: ReloadableLogLevel?

    /// Opens the database, restores checkpoints and builds (but does not start) the pipeline.
    public init(config: DaemonConfig, configPath: String? = nil, logger: Logger, logLevel: ReloadableLogLevel? = nil,
                notifier: SystemdNotifier = SystemdNotifier()) throws(DaemonError) {
        self.config = config
        self.configPath = configPath
        self.logLevel = logLevel
        self.logger = logger
        self.notifier = notifier
        ignoreBrokenPipes()
        // Keys first: a wrong key file stops the start before the database is touched.
        security = try DaemonSecurity.load(config.security, logger: logger)
        if !config.security.isEnabled, let exposed = config.nonLoopbackEndpoints.first {
            logger.warning("plain TCP off loopback (allow_insecure = true): anyone who can reach it may write any series and read every alert",
                           metadata: ["endpoint": "\(exposed)"])
        }
        databaseLock = try DatabaseLock.acquire(database: config.storage.database)
        do {
            store = try Store(path: config.storage.database)
        } catch {
            throw .storage("\(config.storage.database): \(error)")
        }
        switch FileIdentity.of(config.storage.database) {
        case .success(let identity): databaseIdentity = identity
        case .failure(let why): throw .storage("\(config.storage.database): cannot stat the file just opened: \(why)")
        }
        do {
            alertContext = try ZMQContext()
            ingestContext = try ZMQContext()
        } catch {
            throw .ingest("cannot create a ZeroMQ context: \(error)")
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let shardCount = config.pipeline.shards > 0 ? config.pipeline.shards : max(1, cores)
        let trainerCount = config.pipeline.trainers > 0 ? config.pipeline.trainers : max(1, cores / 2)
        let kafkaProducer = try config.kafka.first.map { (k: KafkaConfig) throws(DaemonError) in try KafkaIngest.makeProducer(k) }
        self.kafkaProducer = kafkaProducer
        let alertSink = kafkaProducer.flatMap { producer in
            config.kafka.first.flatMap { $0.alertsTopic.isEmpty ? nil : KafkaAlertSink(producer: producer, topic: $0.alertsTopic) }
        }
        writer = Writer(store: store, context: alertContext, config: config, stats: stats, logger: logger,
                        kafkaAlerts: alertSink, curve: security?.certificate)
        trainers = TrainerPool(threads: trainerCount, stats: stats)
        loader = SeriesLoader(store: store, config: config, logger: logger)
        var shards: [Shard] = []
        for i in 0..<shardCount {
            shards.append(Shard(index: i, config: config, writer: writer, trainers: trainers, stats: stats,
                                latency: latency, logger: logger, loader: loader))
        }
        self.shards = shards
        router = ShardRouter(count: shards.count)
        ingest = Ingest(context: ingestContext, endpoints: config.ingest, shards: shards, stats: stats, logger: logger,
                        curve: security?.certificate)
        if let kafkaConfig = config.kafka.first, let kafkaProducer {
            // Series state comes from the changelog of the partitions the group assigns, not from this file.
            kafka = KafkaIngest(config: kafkaConfig, producer: kafkaProducer, shards: shards, stats: stats, logger: logger)
        } else {
            kafka = nil
            try restore()
        }
    }

    /// Restores the checkpoints of series seen within `limits.idle_after` (most recent first, at most
    /// `limits.max_series`), read in batches; the others stay evicted until their next point. A checkpoint that
    /// cannot be read is logged and that series relearns.
    private func restore() throws(DaemonError) {
        let index: [(key: String, savedAt: Double)]
        let episodes: [String: Int]
        let openRows: [AnomalyRecord]
        var lastSeen: [String: Double] = [:]
        do {
            index = try store.checkpointIndex()
            episodes = try store.maxEpisodes()
            openRows = try store.anomalies(AnomalyQuery(openOnly: true, limit: 1_000_000))
            if !openRows.isEmpty {
                for row in try store.series() { lastSeen[row.series] = row.lastSeen }
            }
        } catch {
            throw .storage("\(config.storage.database): \(error)")
        }
        var perShard = [[String: Int]](repeating: [:], count: shards.count)
        for (key, n) in episodes { perShard[router.shard(for: key)][key] = n }
        let limits = config.limits
        let now = wallSeconds()
        var load: [String] = []
        var evicted: [(key: String, savedAt: Double)] = []
        for entry in index {
            let recent = limits.idleAfter <= 0 || now - entry.savedAt < limits.idleAfter
            if recent && (limits.maxSeries <= 0 || load.count < limits.maxSeries) {
                load.append(entry.key)
            } else {
                evicted.append(entry)
            }
        }
        var restored: [String: SeriesDetector] = [:]
        var failed = 0
        var start = 0
        while start < load.count {
            let keys = Array(load[start..<min(start + SeriesLoader.batchSize, load.count)])
            start += keys.count
            let stored: [StoredSeries]
            do {
                stored = try store.storedSeries(keys)
            } catch {
                throw .storage("\(config.storage.database): \(error)")
            }
            for s in stored {
                guard let cp = s.checkpoint else { continue }
                do {
                    let d = try SeriesDetector(key: cp.key, config: config.detectorConfig(for: cp.key), checkpoint: cp.blob)
                    d.reserveEpisodes(upTo: episodes[cp.key] ?? 0)
                    restored[cp.key] = d
                } catch {
                    failed += 1
                    logger.warning("checkpoint rejected; the series relearns from its next points", metadata: [
                        "series": "\(cp.key)", "reason": "\(error.description)"])
                }
            }
        }
        // Open rows that no restored detector holds open (e.g. opened after the last checkpoint before a crash)
        // are closed with a reason, so no episode stays open forever. An evicted series' open episode is in its
        // checkpoint and continues when the series returns.
        let evictedKeys = Set(evicted.map(\.key))
        var closes: [EpisodeEvent] = []
        for row in openRows {
            if let open = restored[row.series]?.episodes.open, open.number == row.number { continue }
            if evictedKeys.contains(row.series) { continue }
            var episode = row.episode
            // In data time, like opened_at: the series' last stored point (a backfill's episodes must not close
            // "now", years after they opened).
            let lastData = max(lastSeen[row.series] ?? row.peakAt, restored[row.series]?.lastTimestamp ?? -.infinity)
            episode.closedAt = max(row.openedAt, row.peakAt, lastData.isFinite ? lastData : row.peakAt)
            episode.closeReason = "restart"
            closes.append(EpisodeEvent(kind: .close, timestamp: row.peakAt, score: row.peakScore, episode: episode))
        }
        if !closes.isEmpty { writer.mailbox.post(.events(closes)) }
        for (key, d) in restored { shards[router.shard(for: key)].adopt(d) }
        for e in evicted { shards[router.shard(for: e.key)].registerEvicted(e.key, lastSeen: e.savedAt) }
        for (i, shard) in shards.enumerated() { shard.reserveEpisodes(perShard[i]) }
        if !index.isEmpty {
            logger.info("restored series", metadata: [
                "restored": "\(restored.count)", "rejected": "\(failed)", "evicted": "\(evicted.count)",
                "closed_orphan_episodes": "\(closes.count)"])
        }
    }

    /// Hands already-built detectors to their shards (benchmarks; before `start()`).
    package func preload(_ detectors: [SeriesDetector]) {
        for d in detectors { shards[router.shard(for: d.key)].adopt(d) }
    }

    /// Starts the threads: writer (binds the alert sockets), trainers, shards, then ingest (binds the SUB sockets).
    /// Returns once everything is bound, or throws why something could not be.
    public func start() throws(DaemonError) {
        // The authenticators before any CURVE server socket: without one bound, libzmq accepts every client key.
        if let security {
            try security.startHandler(on: alertContext)
            try security.startHandler(on: ingestContext)
        }
        do {
            try writer.start()
        } catch {
            throw .alerts("\(config.alerts.endpoints.joined(separator: ", ")): \(error)")
        }
        trainers.start()
        let shards = self.shards
        loader.start { shard, series in shards[shard].mailbox.post(.restored(series)) }
        for shard in shards { shard.start() }
        do {
            try ingest.start()
            try kafka?.start()
        } catch {
            ingest.stop()
            stopPipeline()
            throw error
        }
        logger.info("omen started", metadata: [
            "ingest": "\(config.ingest.map { "\($0.mode.rawValue) \($0.endpoint)" }.joined(separator: ", "))",
            "kafka": "\(config.kafka.map { "group \($0.group) topics \($0.topics.joined(separator: ",")) on \($0.brokers)" }.joined())",
            "alerts": "\(config.alerts.endpoints.joined(separator: ", "))",
            "database": "\(config.storage.database)",
            "shards": "\(shards.count)", "trainers": "\(trainers.threads)",
            "series_restored": "\(stats.series.load(ordering: .relaxed))",
        ])
    }

    /// Seconds the shards may spend draining and checkpointing at shutdown.
    var stopTimeout: Double { config.storage.stopTimeout }

    /// Stops ingest only (the first step of a graceful shutdown).
    package func stopIngest() {
        kafka?.stop()
        ingest.stop()
        ingestContext.terminate()
    }

    /// Stops trainers, drains and checkpoints the shards, flushes the writer, closes the alert sockets.
    package func stopPipeline() {
        // The shards drain their mailboxes and write their final checkpoints until this deadline (see
        // `Shard.finalCheckpoint`); the writer's last commits and the exit come after it.
        let deadline = monotonicSeconds() + stopTimeout
        trainers.stop()
        // Restores in flight land in the shards' mailboxes before those close (their points then run in the drain).
        loader.mailbox.close()
        if !loader.join(timeout: 30) { logger.error("series loader did not finish in time") }
        for shard in shards {
            shard.shutdownDeadline = deadline
            shard.mailbox.close()
        }
        for shard in shards where !shard.join(timeout: max(1, deadline - monotonicSeconds()) + 30) {
            logger.error("shard did not drain in time", metadata: ["shard": "\(shard.index)"])
        }
        writer.mailbox.close()
        if !writer.join(timeout: 60) { logger.error("writer did not flush in time") }
        alertContext.terminate()
        kafkaProducer?.close()
    }

    /// What happened to the database file if it is no longer the one opened at start (deleted, replaced).
    func databaseProblem() -> String? {
        databaseIdentity.problem(at: config.storage.database)
    }

    /// Stops everything without writing another row: the database file is gone, and writing into an unlinked
    /// inode would only pretend to keep what is lost at exit.
    func abandon() {
        writer.abandon()
        stopIngest()
        stopPipeline()
    }

    /// Sends one sd_notify message; a failure is logged, never fatal (systemd may simply not be listening).
    func notify(_ message: String) {
        do {
            try notifier.send(message)
        } catch {
            logger.warning("sd_notify failed", metadata: ["error": "\(error.description)"])
        }
    }

    /// Whether every pipeline thread looped recently (for the systemd watchdog).
    func isHealthy(now: Double, stale: Double = 10) -> Bool {
        if now - ingest.heartbeat.last > stale { return false }
        if let kafka, now - kafka.heartbeat.last > stale { return false }
        if now - writer.heartbeat.last > stale { return false }
        return shards.allSatisfy { now - $0.heartbeat.last <= stale }
    }

    /// Receive-to-scored latency percentiles in seconds (p50, p99), nil before any batch.
    public func latencyPercentiles() -> (p50: Double, p99: Double)? {
        guard let p = latency.percentiles([50, 99]) else { return nil }
        return (p[0], p[1])
    }

    /// Applies a new configuration's alerting part (thresholds, overrides) to every series.
    public func reload(_ newConfig: DaemonConfig) {
        for shard in shards { shard.mailbox.post(.reload(newConfig)) }
    }

    /// Runs until SIGTERM or SIGINT: starts the pipeline, tells systemd it is ready, heartbeats, then drains.
    public func run() async throws {
        try start()
        notify("READY=1")
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: PipelineService(daemon: self)),
                .init(service: IngestService(daemon: self)),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

/// Heartbeats and stats while running; on shutdown drains the shards and flushes the writer.
struct PipelineService: Service {
    let daemon: OmenDaemon

    func run() async throws {
        let watchdog = daemon.notifier.watchdogInterval.map { Double($0.components.seconds) + Double($0.components.attoseconds) * 1e-18 }
        // At least once a second: the database file check runs every turn.
        let interval = max(0.5, min(daemon.config.pipeline.statsInterval, watchdog ?? .infinity, 1))
        var lastStats = monotonicSeconds()
        var lastProcessed = 0
        let hup = HangupSignal()
        while !Task.isShuttingDownGracefully {
            // Cancelled at once by a graceful shutdown, so SIGTERM never waits out a stats interval.
            _ = try? await cancelWhenGracefulShutdown {
                try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            }
            let now = monotonicSeconds()
            if let problem = daemon.databaseProblem() {
                daemon.logger.error("stopping: \(problem); nothing more is written, restore the file or start afresh", metadata: [
                    "database": "\(daemon.config.storage.database)"])
                daemon.notify("STOPPING=1")
                daemon.abandon()
                throw DaemonError.ownership(problem)
            }
            if watchdog != nil, daemon.isHealthy(now: now, stale: max(10, 3 * interval)) { daemon.notify("WATCHDOG=1") }
            if hup.takePending() { reloadConfiguration() }
            if now - lastStats >= daemon.config.pipeline.statsInterval {
                let processed = daemon.stats.pointsProcessed.load(ordering: .relaxed)
                let rate = Double(processed - lastProcessed) / (now - lastStats)
                lastProcessed = processed
                lastStats = now
                var metadata: Logger.Metadata = [:]
                for (k, v) in daemon.stats.snapshot() { metadata[k] = "\(v)" }
                metadata["points_per_s"] = "\(Int(rate))"
                if let counts = daemon.security?.counts {
                    metadata["curve_clients"] = "\(counts.accepted.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))"
                    metadata["curve_refused"] = "\(counts.denied)"
                }
                daemon.logger.info("stats", metadata: metadata)
                daemon.notify("STATUS=\(Int(rate)) points/s, \(daemon.stats.series.load(ordering: .relaxed)) series")
            }
        }
        // Ingest has stopped (it shuts down first); now drain and flush.
        daemon.stopPipeline()
        daemon.logger.info("omen stopped", metadata: [
            "points_processed": "\(daemon.stats.pointsProcessed.load(ordering: .relaxed))",
            "checkpoints_written": "\(daemon.stats.checkpointsWritten.load(ordering: .relaxed))"])
    }

    private func reloadConfiguration() {
        guard let path = daemon.configPath else {
            daemon.logger.info("SIGHUP ignored: the daemon was started without a configuration file")
            return
        }
        daemon.notify("RELOADING=1")
        defer { daemon.notify("READY=1") }
        do {
            let reload = daemon.config.reloaded(with: try ConfigLoader.load(path: path))
            daemon.reload(reload.config)
            daemon.security?.reload()
            daemon.logLevel?.set(reload.config.logLevel)
            var metadata: Logger.Metadata = ["file": "\(path)", "log_level": "\(reload.config.logLevel)"]
            if !reload.restartRequired.isEmpty {
                metadata["restart_required_for"] = "\(reload.restartRequired.joined(separator: ", "))"
            }
            daemon.logger.info("configuration reloaded (log level, [episodes], [[override]])", metadata: metadata)
        } catch {
            daemon.logger.error("configuration not reloaded; the running one stays", metadata: ["error": "\(error)"])
        }
    }
}

/// Stops ingest when the group shuts down (it is the last service, so it is told first).
struct IngestService: Service {
    let daemon: OmenDaemon

    func run() async throws {
        try? await gracefulShutdown()
        daemon.notify("STOPPING=1")
        daemon.logger.info("shutting down: stopping ingest, draining shards, flushing the database")
        daemon.stopIngest()
    }
}

/// SIGHUP, turned into a flag the pipeline service polls (reload thresholds and overrides).
final class HangupSignal: @unchecked Sendable {
    private let source: DispatchSourceSignal
    private let pending = LockedBox(false)

    init() {
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        let pending = self.pending
        source.setEventHandler { pending.value = true }
        source.resume()
    }

    func takePending() -> Bool {
        let p = pending.value
        if p { pending.value = false }
        return p
    }

    deinit { source.cancel() }
}

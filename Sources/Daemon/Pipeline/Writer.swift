import Configuration
import Detection
import Foundation
import History
import Logging
import Messaging
import Synchronization

/// The single SQLite writer, and the owner of the alert PUB sockets.
///
/// Shards post events, series summaries and checkpoints; the writer commits them in batched transactions
/// (at least every `flush_interval`, or sooner when `flush_rows` are pending) and publishes each episode event
/// after its transaction committed, so an alert always carries the id of a durable row.
final class Writer: @unchecked Sendable {
    enum Message: Sendable {
        case events([EpisodeEvent])
        case series([SeriesUpdate])
        case checkpoints([ModelCheckpoint], series: [SeriesUpdate])
        /// Hindsight scores of closed episodes, from the trainer pool.
        case hindsight([HindsightVerdict])
    }

    let mailbox = Mailbox<Message>()
    /// Messages a shard's final checkpoint round lets wait here before it waits itself (bounded memory at shutdown).
    static let maxQueuedMessages = 4
    /// Checkpoint bytes that make a commit due at once (a few final-round batches), whatever `flush_rows` says.
    static let checkpointBytesPerCommit = 16 << 20
    let store: Store
    private let context: ZMQContext
    let config: DaemonConfig
    let stats: PipelineStats
    let logger: Logger
    let clock: PipelineClock
    /// Times every committed flush (`omen_writer_flush_seconds`); nil when metrics are off.
    private let flushTimer: FlushTimer?
    /// Alerts also go to this Kafka topic (`[[kafka]] alerts_topic`).
    private let kafkaAlerts: KafkaAlertSink?
    private let done = DispatchSemaphore(value: 0)
    private let started = DispatchSemaphore(value: 0)
    /// Set by the writer thread if the PUB sockets could not be set up.
    private let startError = LockedBox<ZMQError?>(nil)
    let heartbeat = HeartbeatCell()
    /// Set when the database file is gone: from then on rows are dropped, not written (see `abandon()`).
    private let abandoned = Atomic<Bool>(false)
    /// Loop turns that ended with nothing pending (see `Writer+Residency.swift`).
    let durableTurns = Atomic<Int>(0)

    // Owned by the writer thread.
    private var events: [EpisodeEvent] = []
    private var series: [String: SeriesUpdate] = [:]
    private var checkpoints: [String: ModelCheckpoint] = [:]
    /// Bytes of the checkpoint blobs in `checkpoints`: a commit is due at `checkpointBytesPerCommit`.
    private var checkpointBytes = 0
    private var verdicts: [HindsightVerdict] = []
    private var publishers: [ZMQSocket] = []
    private var lastRetention = 0.0
    private var lastFlush = 0.0
    /// Owned by the writer thread: idle checkpoint deletion and counter persistence (`Writer+Residency.swift`).
    var residency = WriterResidency()

    /// The daemon's CURVE certificate when `[security]` is on: every PUB socket is then a CURVE server.
    private let curve: CurveCertificate?

    init(store: Store, context: ZMQContext, config: DaemonConfig, stats: PipelineStats, logger: Logger,
         clock: PipelineClock = .system, flushTimer: FlushTimer? = nil, kafkaAlerts: KafkaAlertSink? = nil,
         curve: CurveCertificate? = nil) {
        self.clock = clock
        self.flushTimer = flushTimer
        self.kafkaAlerts = kafkaAlerts
        self.curve = curve
        self.store = store
        self.context = context
        self.config = config
        self.stats = stats
        self.logger = logger
    }

    /// Starts the thread and returns once the PUB sockets are bound (or throws why they could not be).
    func start() throws(ZMQError) {
        let thread = Thread { [self] in
            nameCurrentThread("omen-writer")
            do throws(ZMQError) {
                try openPublishers()
            } catch {
                startError.value = error
                started.signal()
                done.signal()
                return
            }
            started.signal()
            while turn() {}
            closePublishers()
            done.signal()
        }
        thread.name = "omen-writer"
        thread.start()
        started.wait()
        if let error = startError.value { throw error }
    }

    /// Waits for the final flush after `mailbox.close()`.
    func join(timeout: Double) -> Bool {
        done.wait(timeout: .now() + timeout) == .success
    }

    /// Binds or connects the alert PUB sockets (on the thread that will use them; `start()` does it, or a test
    /// that drives `turn()` itself) and starts the flush interval at the clock's now.
    func openPublishers() throws(ZMQError) {
        lastFlush = clock.monotonic()
        do {
            for endpoint in config.alerts.endpoints {
                let socket = try ZMQSocket(context: context, type: .pub)
                if let curve { try socket.makeCurveServer(curve, domain: DaemonSecurity.domain) }
                try socket.setSendHighWaterMark(Int(config.alerts.sendHighWaterMark))
                try socket.setLinger(milliseconds: 1000)
                try socket.attach(endpoint, mode: config.alerts.mode)
                publishers.append(socket)
            }
        } catch {
            closePublishers()
            throw error
        }
    }

    func closePublishers() {
        for socket in publishers { socket.close() }
        publishers = []
    }

    /// One turn of the loop: absorbs what the mailbox holds (waiting at most until the next flush is due), then
    /// commits when `flush_interval` passed, `flush_rows` are pending or the mailbox closed, and publishes each
    /// committed event. Returns false once the mailbox was closed and everything it held was flushed.
    func turn() -> Bool {
        let wait = max(0.001, config.storage.flushInterval - (clock.monotonic() - lastFlush))
        let (messages, closed) = mailbox.takeAll(timeout: wait)
        for message in messages { absorb(message) }
        let now = clock.monotonic()
        heartbeat.beat(now)
        if closed || pendingRows >= config.storage.flushRows || checkpointBytes >= Self.checkpointBytesPerCommit
            || now - lastFlush >= config.storage.flushInterval {
            flush()
            lastFlush = now
        }
        if closed {
            // A last attempt for rows a failed transaction left behind.
            if pendingRows > 0 { flush() }
            return false
        }
        if pendingRows == 0 { durableTurns.wrappingAdd(1, ordering: .releasing) }
        applyRetention(now: now)
        applyResidency(now: now)
        return true
    }

    private var pendingRows: Int { events.count + series.count + checkpoints.count + verdicts.count }

    /// Drops every row from now on (the database file was deleted or replaced); shards skip their final checkpoint.
    func abandon() { abandoned.store(true, ordering: .relaxed) }

    /// True after `abandon()`.
    var isAbandoned: Bool { abandoned.load(ordering: .relaxed) }

    private func absorb(_ message: Message) {
        switch message {
        case .events(let e):
            events.append(contentsOf: e)
        case .series(let updates):
            for u in updates { keep(u) }
        case .checkpoints(let cps, let updates):
            for c in cps {
                checkpointBytes += c.blob.count - (checkpoints[c.key]?.blob.count ?? 0)
                checkpoints[c.key] = c
            }
            for u in updates { keep(u) }
        case .hindsight(let v):
            verdicts.append(contentsOf: v)
        }
    }

    /// A newer summary of a series replaces the pending one, except its refusal deltas, which add up.
    private func keep(_ update: SeriesUpdate) {
        var u = update
        if let pending = series[u.key] {
            u.refusedOutOfOrder += pending.refusedOutOfOrder
            u.refusedFuture += pending.refusedFuture
        }
        series[u.key] = u
    }

    private func flush() {
        guard pendingRows > 0 else { return }
        if isAbandoned {
            events.removeAll()
            series.removeAll()
            checkpoints.removeAll()
            checkpointBytes = 0
            verdicts.removeAll()
            return
        }
        // Series rows first: events and checkpoints refer to them.
        let batch = WriteBatch(events: events, series: Array(series.values), checkpoints: Array(checkpoints.values),
                               hindsight: verdicts)
        let ids: [Int64]
        let flushStart = ContinuousClock.now
        do {
            ids = try store.apply(batch)
            flushTimer?.recordInterval(since: flushStart)
        } catch {
            stats.writeFailures.wrappingAdd(1, ordering: .relaxed)
            logger.error("database write failed; will retry", metadata: [
                "error": "\(error)", "pending_rows": "\(pendingRows)"])
            // Bound what we keep while the disk misbehaves: summaries and checkpoints are superseded by newer
            // ones anyway; events are what matter, keep the newest 100,000.
            if events.count > 100_000 { events.removeFirst(events.count - 100_000) }
            if verdicts.count > 10_000 { verdicts.removeFirst(verdicts.count - 10_000) }
            return
        }
        stats.rowsWritten.wrappingAdd(pendingRows, ordering: .relaxed)
        stats.checkpointsWritten.wrappingAdd(checkpoints.count, ordering: .relaxed)
        stats.countCommitted(events: events, checkpoints: checkpoints.values)
        for (event, id) in zip(events, ids) { publish(event, id: id) }
        events.removeAll(keepingCapacity: true)
        series.removeAll(keepingCapacity: true)
        // Not keeping capacity: at shutdown this dictionary held the largest batch, and it is not needed again.
        checkpoints.removeAll()
        checkpointBytes = 0
        verdicts.removeAll(keepingCapacity: true)
    }

    private func publish(_ event: EpisodeEvent, id: Int64) {
        let topic = Array(AlertCodec.topic(for: event).utf8)
        let body = AlertCodec.body(for: event, id: id)
        for socket in publishers {
            do {
                try socket.send(frames: [topic, body])
                stats.alertsPublished.wrappingAdd(1, ordering: .relaxed)
            } catch {
                // PUB never blocks; an error here is a closed context during shutdown.
                logger.warning("alert not published", metadata: ["error": "\(error)", "series": "\(event.series)"])
            }
        }
        if let kafkaAlerts, !kafkaAlerts.publish(series: event.series, body: body) {
            logger.warning("alert not produced to Kafka", metadata: ["topic": "\(kafkaAlerts.topic)", "series": "\(event.series)"])
        }
    }

    private func applyRetention(now: Double) {
        guard config.storage.retentionDays > 0, now - lastRetention >= 3600 else { return }
        lastRetention = now
        do {
            let deleted = try store.deleteClosedAnomalies(closedBefore: clock.wall() - config.storage.retentionDays * 86_400)
            if deleted > 0 { logger.info("retention deleted closed episodes", metadata: ["rows": "\(deleted)"]) }
        } catch {
            logger.warning("retention failed", metadata: ["error": "\(error)"])
        }
    }
}

/// A value behind a lock, for the few places where threads hand one value over.
final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

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
    }

    let mailbox = Mailbox<Message>()
    let store: Store
    private let context: ZMQContext
    let config: DaemonConfig
    let stats: PipelineStats
    let logger: Logger
    private let done = DispatchSemaphore(value: 0)
    private let started = DispatchSemaphore(value: 0)
    /// Set by the writer thread if the PUB sockets could not be set up.
    private let startError = LockedBox<ZMQError?>(nil)
    let heartbeat = HeartbeatCell()
    /// Loop turns that ended with nothing pending (see `Writer+Residency.swift`).
    let durableTurns = Atomic<Int>(0)

    // Owned by the writer thread.
    private var events: [EpisodeEvent] = []
    private var series: [String: SeriesUpdate] = [:]
    private var checkpoints: [String: ModelCheckpoint] = [:]
    private var publishers: [ZMQSocket] = []
    private var lastRetention = 0.0
    /// Owned by the writer thread: idle checkpoint deletion and counter persistence (`Writer+Residency.swift`).
    var residency = WriterResidency()

    init(store: Store, context: ZMQContext, config: DaemonConfig, stats: PipelineStats, logger: Logger) {
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
            run()
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

    private func run() {
        do {
            for endpoint in config.alerts.endpoints {
                let socket = try ZMQSocket(context: context, type: .pub)
                try socket.setSendHighWaterMark(Int(config.alerts.sendHighWaterMark))
                try socket.setLinger(milliseconds: 1000)
                switch config.alerts.mode {
                case .bind: try socket.bind(endpoint)
                case .connect: try socket.connect(endpoint)
                }
                publishers.append(socket)
            }
        } catch {
            startError.value = error
            for socket in publishers { socket.close() }
            started.signal()
            return
        }
        started.signal()
        var lastFlush = monotonicSeconds()
        while true {
            let wait = max(0.001, config.storage.flushInterval - (monotonicSeconds() - lastFlush))
            let (messages, closed) = mailbox.takeAll(timeout: wait)
            for message in messages { absorb(message) }
            let now = monotonicSeconds()
            heartbeat.beat(now)
            if closed || pendingRows >= config.storage.flushRows || now - lastFlush >= config.storage.flushInterval {
                flush()
                lastFlush = now
            }
            if closed {
                // A last attempt for rows a failed transaction left behind.
                if pendingRows > 0 { flush() }
                break
            }
            if pendingRows == 0 { durableTurns.wrappingAdd(1, ordering: .releasing) }
            applyRetention(now: now)
            applyResidency(now: now)
        }
        for socket in publishers { socket.close() }
        publishers = []
    }

    private var pendingRows: Int { events.count + series.count + checkpoints.count }

    private func absorb(_ message: Message) {
        switch message {
        case .events(let e):
            events.append(contentsOf: e)
        case .series(let updates):
            for u in updates { series[u.key] = u }
        case .checkpoints(let cps, let updates):
            for c in cps { checkpoints[c.key] = c }
            for u in updates { series[u.key] = u }
        }
    }

    private func flush() {
        guard pendingRows > 0 else { return }
        // Series rows first: events and checkpoints refer to them.
        let batch = WriteBatch(events: events, series: Array(series.values), checkpoints: Array(checkpoints.values))
        let ids: [Int64]
        do {
            ids = try store.apply(batch)
        } catch {
            stats.writeFailures.wrappingAdd(1, ordering: .relaxed)
            logger.error("database write failed; will retry", metadata: [
                "error": "\(error)", "pending_rows": "\(pendingRows)"])
            // Bound what we keep while the disk misbehaves: summaries and checkpoints are superseded by newer
            // ones anyway; events are what matter, keep the newest 100,000.
            if events.count > 100_000 { events.removeFirst(events.count - 100_000) }
            return
        }
        stats.rowsWritten.wrappingAdd(pendingRows, ordering: .relaxed)
        stats.checkpointsWritten.wrappingAdd(checkpoints.count, ordering: .relaxed)
        for (event, id) in zip(events, ids) { publish(event, id: id) }
        events.removeAll(keepingCapacity: true)
        series.removeAll(keepingCapacity: true)
        checkpoints.removeAll(keepingCapacity: true)
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
    }

    private func applyRetention(now: Double) {
        guard config.storage.retentionDays > 0, now - lastRetention >= 3600 else { return }
        lastRetention = now
        do {
            let deleted = try store.deleteClosedAnomalies(closedBefore: wallSeconds() - config.storage.retentionDays * 86_400)
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

import Configuration
import Detection
import Foundation
import Logging
import Messaging
import Synchronization

/// The ingest thread: owns the SUB sockets, parses payloads into points and routes them to the shards by a
/// stable hash of the series key, in batches (one mailbox post per shard per poll round, never per point).
final class Ingest: @unchecked Sendable {
    private let context: ZMQContext
    private let endpoints: [IngestEndpointConfig]
    private let shards: [Shard]
    private let stats: PipelineStats
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let started = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let startError = LockedBox<String?>(nil)
    let heartbeat = HeartbeatCell()
    /// Rejected records per endpoint, for stats.
    let rejectedByEndpoint: Mutex<[String: Int]>

    /// Points per shard batch before it is handed over mid-round.
    static let batchSize = 512
    /// Batches (of up to `batchSize` points) that may wait for one shard before ingest waits for it: about 1 M
    /// points, a few seconds of work, so memory stays bounded when a shard falls behind.
    static let maxQueuedBatches = 2_048
    /// Largest message accepted (ZMQ_MAXMSGSIZE): 16 MiB is some 150,000 records; 64 MB frames grew memory.
    static let maxMessageBytes = 16 << 20
    /// Messages taken from one socket before the others get their turn.
    static let messagesPerTurn = 256

    /// The daemon's CURVE certificate when `[security]` is on: every SUB socket is then a CURVE server.
    private let curve: CurveCertificate?

    init(context: ZMQContext, endpoints: [IngestEndpointConfig], shards: [Shard], stats: PipelineStats, logger: Logger,
         curve: CurveCertificate? = nil) {
        self.curve = curve
        self.context = context
        self.endpoints = endpoints
        self.shards = shards
        self.stats = stats
        self.logger = logger
        rejectedByEndpoint = Mutex(Dictionary(uniqueKeysWithValues: endpoints.map { ($0.endpoint, 0) }))
    }

    /// Starts the thread; returns once every socket is bound or connected, or throws why one could not be.
    func start() throws(DaemonError) {
        let thread = Thread { [self] in
            nameCurrentThread("omen-ingest")
            run()
            done.signal()
        }
        thread.name = "omen-ingest"
        thread.start()
        started.wait()
        if let why = startError.value { throw DaemonError.ingest(why) }
    }

    /// Stops receiving; the thread hands its last batches to the shards and exits.
    func stop(timeout: Double = 5) {
        // Idempotent: the second caller (a failing service's cleanup, then the group's cancellation) returns at once.
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        _ = done.wait(timeout: .now() + timeout)
    }

    private func run() {
        var sockets: [ZMQSocket] = []
        var parsers: [PayloadParser] = []
        // One key table for every endpoint, so a series has one id whichever socket its points come through.
        let keys = SeriesKeyTable()
        for endpoint in endpoints {
            do {
                let socket = try ZMQSocket(context: context, type: .sub)
                if let curve { try socket.makeCurveServer(curve, domain: DaemonSecurity.domain) }
                try socket.setReceiveHighWaterMark(Int(endpoint.receiveHighWaterMark))
                // A peer sending a larger message is disconnected by libzmq before the message is buffered.
                try socket.setMaximumMessageSize(Self.maxMessageBytes)
                try socket.setLinger(milliseconds: 0)
                for prefix in endpoint.subscribe { try socket.subscribe(prefix: prefix) }
                try socket.attach(endpoint.endpoint, mode: endpoint.mode)
                sockets.append(socket)
                parsers.append(PayloadParser(format: endpoint.format, keys: keys))
            } catch {
                startError.value = "\(endpoint.mode.rawValue) \(endpoint.endpoint): \(error)"
                for socket in sockets { socket.close() }
                started.signal()
                return
            }
        }
        started.signal()

        let buffer = ZMQMessageBuffer(initialCapacity: 256 * 1024)
        var pending = [[Point]](repeating: [], count: shards.count)
        var pendingSince = [Double](repeating: 0, count: shards.count)
        var scratch: [Point] = []
        scratch.reserveCapacity(1024)
        var limiter = RateLimitedLog(interval: 10)
        let router = ShardRouter(count: shards.count)

        func handOver(_ s: Int) {
            guard !pending[s].isEmpty else { return }
            // At most `maxQueuedBatches` batches wait for a shard; beyond that ingest waits (bounded, so shutdown
            // is never blocked) and the socket's receive queue absorbs the burst.
            if !shards[s].mailbox.post(.points(pending[s], receivedAt: pendingSince[s]),
                                       waitingBelow: Self.maxQueuedBatches, timeout: 1) {
                stats.ingestStalls.wrappingAdd(1, ordering: .relaxed)
            }
            pending[s] = []
            pending[s].reserveCapacity(Self.batchSize)
        }

        while !stopping.load(ordering: .relaxed) {
            let ready: [Bool]
            do {
                ready = try ZMQ.poll(sockets: sockets, timeoutMs: 100)
            } catch {
                logger.error("ingest poll failed", metadata: ["error": "\(error)"])
                break
            }
            heartbeat.beat(monotonicSeconds())
            for (i, isReady) in ready.enumerated() where isReady {
                for _ in 0..<Self.messagesPerTurn {
                    let frames: Int
                    do {
                        frames = try sockets[i].receive(into: buffer, dontWait: true)
                    } catch {
                        logger.error("ingest receive failed", metadata: ["endpoint": "\(endpoints[i].endpoint)", "error": "\(error)"])
                        break
                    }
                    if frames == 0 { break }
                    stats.messagesReceived.wrappingAdd(1, ordering: .relaxed)
                    let receivedMono = monotonicSeconds()
                    scratch.removeAll(keepingCapacity: true)
                    let summary = parsers[i].parse(buffer.lastFrame, receivedAt: wallSeconds(), into: &scratch)
                    if summary.rejected > 0 {
                        stats.recordsRejected.wrappingAdd(summary.rejected, ordering: .relaxed)
                        stats.countRejections(summary)
                        rejectedByEndpoint.withLock { $0[endpoints[i].endpoint, default: 0] += summary.rejected }
                        limiter.log(logger, endpoint: endpoints[i].endpoint, summary: summary, now: receivedMono)
                    }
                    stats.pointsReceived.wrappingAdd(scratch.count, ordering: .relaxed)
                    for point in scratch {
                        let s = router.shard(for: point, keys: keys)
                        if pending[s].isEmpty { pendingSince[s] = receivedMono }
                        pending[s].append(point)
                        if pending[s].count >= Self.batchSize { handOver(s) }
                    }
                }
            }
            for s in 0..<shards.count { handOver(s) }
        }
        for s in 0..<shards.count { handOver(s) }
        for socket in sockets { socket.close() }
    }
}

/// Logs rejected records at most once per interval per endpoint, with the counts since the last line and
/// the first error samples, so a flood of bad input cannot flood the journal.
struct RateLimitedLog {
    let interval: Double
    private var last: [String: Double] = [:]
    private var suppressed: [String: Int] = [:]

    init(interval: Double) { self.interval = interval }

    mutating func log(_ logger: Logger, endpoint: String, summary: ParseSummary, now: Double) {
        if let t = last[endpoint], now - t < interval {
            suppressed[endpoint, default: 0] += summary.rejected
            return
        }
        last[endpoint] = now
        let skipped = suppressed.removeValue(forKey: endpoint) ?? 0
        logger.warning("rejected malformed records", metadata: [
            "endpoint": "\(endpoint)",
            "rejected": "\(summary.rejected)",
            "rejected_since_last_log": "\(skipped)",
            "first": "\(summary.samples.first.map { $0.description } ?? "")",
        ])
    }
}

/// Errors that stop the daemon from starting or running, as sentences an operator can act on.
public enum DaemonError: Error, CustomStringConvertible {
    case ingest(String)
    case alerts(String)
    case storage(String)
    case metrics(String)
    /// The database is another daemon's (locked), or was deleted or replaced under this one.
    case ownership(String)
    /// `[security]` cannot be honoured: no CURVE in libzmq, or a key file missing, unreadable, malformed or too open.
    case security(String)

    /// The process exit status: 78 (EX_CONFIG) for what the configuration must fix, 1 otherwise.
    public var exitCode: Int32 {
        if case .security = self { return 78 }
        return 1
    }

    public var description: String {
        switch self {
        case .ingest(let why): return "cannot set up ingest socket: \(why)"
        case .alerts(let why): return "cannot set up alert socket: \(why)"
        case .storage(let why): return "cannot open the database: \(why)"
        case .metrics(let why): return "cannot listen for /metrics: \(why) (set [metrics] listen, or \"\" to turn it off)"
        case .ownership(let why): return why
        case .security(let why): return why
        }
    }
}

import Configuration
import Daemon
import Detection
import Foundation
import Logging
import Messaging
import Recurrent

/// `omen bench ingest`: the whole daemon pipeline over real tcp://127.0.0.1, with trained models.
public enum IngestBench {
    /// What to measure.
    public struct Options: Sendable {
        public var series = 10_000
        /// Points per series sent during the timed run.
        public var pointsPerSeries = 200
        public var recordsPerMessage = 100
        public var cell: CellKind = .lstm
        public var hidden = 32
        /// Retrain at the default cadence during the run (false: no retraining at all, the untrained-pool baseline).
        public var retrain = true
        public var shards = 0
        public var trainers = 0
        /// Points per second the publisher sends at (0 = as fast as it can): below capacity, the latency figures
        /// measure the pipeline rather than the queue in front of it.
        public var rate = 0.0
        /// Serve `/metrics` on a free port and scrape it every this many seconds during the timed run (0: the
        /// listener is off), to measure what metrics cost the pipeline.
        public var metricsScrapeInterval = 0.0
        /// CURVE on the ingest socket: the daemon's key pair and the publisher's (nil = plain TCP).
        public var curve: (server: CurveCertificate, client: CurveCertificate)?
        public init() {}
    }

    /// What was measured.
    public struct Result: Sendable {
        public var points: Int
        public var seconds: Double
        public var pointsPerSecond: Double
        public var p50Microseconds: Double
        public var p99Microseconds: Double
        public var trainingsDone: Int
        public var trainingBacklog: Int
        public var shards: Int
        public var trainers: Int
        public var setupSeconds: Double
        /// CPU seconds per thread role (`omen-shard`, `omen-ingest`, `omen-writer`, `omen-trainer`, `zmq-io`,
        /// `other` = the publisher and runtime threads) during the timed run.
        public var cpuSecondsByRole: [String: Double]
        /// Scrapes of `/metrics` during the timed run (0 with metrics off).
        public var scrapes: Int
    }

    public static func run(_ options: Options, logger: Logger) throws -> Result {
        let setupStart = monotonicSeconds()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("omen-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let ingestPort = try freeTCPPort()
        let alertPort = try freeTCPPort()

        var config = DaemonConfig()
        var endpoint = IngestEndpointConfig(endpoint: "tcp://127.0.0.1:\(ingestPort)")
        endpoint.receiveHighWaterMark = 0
        config.ingest = [endpoint]
        config.alerts.endpoints = ["tcp://127.0.0.1:\(alertPort)"]
        config.storage.database = dir.appendingPathComponent("bench.db").path
        // Its series are seconds old: measured as series past their first day (`min_history_span`), every term scores.
        config.detector.scoring.minHistorySpan = 0
        if let curve = options.curve {
            // The daemon reads keys from files, as in production: the server's secret, the client's public half.
            let clients = dir.appendingPathComponent("clients").path
            try FileManager.default.createDirectory(atPath: clients, withIntermediateDirectories: true)
            let server = try curve.server.save(directory: dir.path, name: "server")
            _ = try CurveCertificate(publicKey: curve.client.publicKey, name: "bench").save(directory: clients, name: "bench")
            config.security.secretKey = server.secretPath
            config.security.allowedClients = clients
        }
        config.storage.checkpointOnShutdown = false
        config.pipeline.shards = options.shards
        config.pipeline.trainers = options.trainers
        config.pipeline.statsInterval = 3600
        config.detector.model.cell = options.cell
        config.detector.model.hiddenSize = options.hidden
        if !options.retrain { config.detector.learning.retrainEvery = 0 }
        let metricsPort = options.metricsScrapeInterval > 0 ? try freeTCPPort() : 0
        config.metrics.listen = metricsPort > 0 ? "127.0.0.1:\(metricsPort)" : ""

        let warm = config.detector.learning.warmupPoints + 150
        var detectors = try trainedDetectors(series: options.series, warm: warm, config: config)

        let daemon = try OmenDaemon(config: config, logger: logger)
        daemon.preload(detectors)
        detectors = []
        try daemon.start()
        let setupSeconds = monotonicSeconds() - setupStart

        // Pre-encode every message so the publisher is never the bottleneck.
        var messages: [[UInt8]] = []
        var line = ""
        var count = 0
        for i in warm..<(warm + options.pointsPerSeries) {
            for s in 0..<options.series {
                line += "bench.host\(s / 100).metric\(s % 100) \(signal(series: s, i: i)) \(1_700_000_000 + i * 60)\n"
                count += 1
                if count == options.recordsPerMessage {
                    messages.append(Array(line.utf8))
                    line = ""
                    count = 0
                }
            }
        }
        if !line.isEmpty { messages.append(Array(line.utf8)) }
        let total = options.series * options.pointsPerSeries

        let context = try ZMQContext()
        let publisher = try ZMQSocket(context: context, type: .pub)
        try publisher.setSendHighWaterMark(0)
        try publisher.setLinger(milliseconds: 5000)
        if let curve = options.curve { try publisher.makeCurveClient(curve.client, server: curve.server.publicKey) }
        try publisher.connect("tcp://127.0.0.1:\(ingestPort)")
        // Slow joiner: probe until the daemon sees a point (bounded).
        var probe = 0
        let probeDeadline = monotonicSeconds() + 10
        while daemon.stats.pointsReceived.load(ordering: .relaxed) == 0 && monotonicSeconds() < probeDeadline {
            probe += 1
            try publisher.send(frames: [Array("bench.probe 1 \(1_700_000_000 + probe)\n".utf8)])
            Thread.sleep(forTimeInterval: 0.01)
        }
        Thread.sleep(forTimeInterval: 0.2)
        let baseline = daemon.stats.pointsProcessed.load(ordering: .relaxed)
        daemon.resetLatency()
        let trainingsBefore = daemon.stats.trainingsDone.load(ordering: .relaxed)

        let scraper = metricsPort > 0 ? MetricsScraper(port: metricsPort, interval: options.metricsScrapeInterval) : nil
        let cpuBefore = cpuSecondsByThreadRole()
        let t0 = monotonicSeconds()
        var sent = 0
        for m in messages {
            try publisher.send(frames: [m])
            sent += options.recordsPerMessage
            if options.rate > 0 {
                let due = t0 + Double(sent) / options.rate
                let wait = due - monotonicSeconds()
                if wait > 0.0005 { Thread.sleep(forTimeInterval: wait) }
            }
        }
        let deadline = t0 + 600
        while daemon.stats.pointsProcessed.load(ordering: .relaxed) - baseline < total && monotonicSeconds() < deadline {
            Thread.sleep(forTimeInterval: 0.002)
        }
        let seconds = monotonicSeconds() - t0
        let scrapes = scraper?.stop() ?? 0
        let cpuAfter = cpuSecondsByThreadRole()
        var cpu: [String: Double] = [:]
        for (role, after) in cpuAfter { cpu[role] = max(0, after - (cpuBefore[role] ?? 0)) }
        let processed = daemon.stats.pointsProcessed.load(ordering: .relaxed) - baseline
        let lat = daemon.latencyPercentiles()
        let result = Result(
            points: processed, seconds: seconds, pointsPerSecond: Double(processed) / seconds,
            p50Microseconds: (lat?.p50 ?? .nan) * 1e6, p99Microseconds: (lat?.p99 ?? .nan) * 1e6,
            trainingsDone: daemon.stats.trainingsDone.load(ordering: .relaxed) - trainingsBefore,
            trainingBacklog: daemon.stats.trainingBacklog.load(ordering: .relaxed),
            shards: daemon.shardCount, trainers: daemon.trainerThreads, setupSeconds: setupSeconds,
            cpuSecondsByRole: cpu, scrapes: scrapes)
        publisher.close()
        context.terminate()
        daemon.stopIngest()
        daemon.stopPipeline()
        if processed < total { throw BenchError("only \(processed) of \(total) points were processed within 600 s") }
        return result
    }

    /// `series` detectors named `bench.hostH.metricM`, each fed `warm` points of its signal and holding a trained
    /// model. One real training on a synthetic window gives the model; every series gets its own copy of the
    /// weights (perturbed so that copy-on-write really copies: separate weight buffers, as in a real daemon).
    static func trainedDetectors(series: Int, warm: Int, config: DaemonConfig) throws -> [SeriesDetector] {
        let base = SeriesDetector(key: "bench.base", config: config.detector)
        for i in 0..<warm { _ = try? base.process(timestamp: 1_700_000_000 + Double(i) * 60, value: signal(series: 0, i: i)) }
        let outcome = base.makeTrainingJob().run()
        guard var model = outcome.model else { throw BenchError("base training produced no model") }
        var detectors: [SeriesDetector] = []
        detectors.reserveCapacity(series)
        for s in 0..<series {
            let key = "bench.host\(s / 100).metric\(s % 100)"
            let d = SeriesDetector(key: key, config: config.detectorConfig(for: key))
            for i in 0..<warm { _ = try? d.process(timestamp: 1_700_000_000 + Double(i) * 60, value: signal(series: s, i: i)) }
            model.parameters[0] += 1e-6
            var copy = outcome
            copy.key = key
            copy.model = model
            d.install(copy)
            detectors.append(d)
        }
        return detectors
    }

    /// A daily-ish sine with a per-series phase and a little deterministic noise.
    static func signal(series: Int, i: Int) -> Double {
        let phase = Double(series % 97) * 0.1
        let noise = Double((i &* 2_654_435_761 &+ series &* 40_503) % 1000) / 1000 - 0.5
        return 50 + 10 * sin(Double(i) * 2 * .pi / 288 + phase) + noise
    }
}

/// A benchmark that could not run, with the reason.
public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Asks the kernel for a free TCP port on 127.0.0.1 (bind to port 0, read it back, close).
public func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket() failed: errno \(errno)") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw BenchError("bind() failed: errno \(errno)") }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

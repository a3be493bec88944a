import Configuration
import Daemon
import Detection
import Foundation
import Logging
import Messaging

/// `omen bench shutdown`: how long a SIGTERM's drain and final checkpoint round take with many changed series,
/// and how much memory the stop adds to the steady state (issue 15: a stop at 90,000 series grew from 12 to 18 GB
/// and overran systemd's stop timeout).
public enum ShutdownBench {
    /// What was measured.
    public struct Result: Sendable {
        public var series: Int
        public var stopSeconds: Double
        public var steadyRSSBytes: Int
        public var peakRSSBytes: Int
        public var checkpointsWritten: Int
        public var checkpointsSkipped: Int
        public var databaseBytes: Int
        public var setupSeconds: Double
    }

    public static func run(series: Int, logger: Logger) throws -> Result {
        let setupStart = ProcessInfo.processInfo.systemUptime
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "omen-bench-stop-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let ingestPort = try freeTCPPort()
        var config = DaemonConfig()
        var endpoint = IngestEndpointConfig(endpoint: "tcp://127.0.0.1:\(ingestPort)")
        endpoint.receiveHighWaterMark = 0
        config.ingest = [endpoint]
        config.alerts.endpoints = ["tcp://127.0.0.1:\(try freeTCPPort())"]
        config.storage.database = dir.appendingPathComponent("bench.db").path
        config.storage.checkpointInterval = 7 * 86_400
        config.pipeline.statsInterval = 3600
        config.detector.learning.retrainEvery = 0
        // Its series are hours old: measured as series past their first day (`min_history_span`), every term scores.
        config.detector.scoring.minHistorySpan = 0
        let warm = config.detector.learning.warmupPoints + 150
        var detectors = try IngestBench.trainedDetectors(series: series, warm: warm, config: config)
        let daemon = try OmenDaemon(config: config, logger: logger)
        daemon.preload(detectors)
        detectors = []
        try daemon.start()

        // One new point per series through the real ingest path: every series now differs from its stored state
        // (none is stored yet), which is the worst case for the final round.
        let context = try ZMQContext()
        let publisher = try ZMQSocket(context: context, type: .pub)
        try publisher.setSendHighWaterMark(0)
        try publisher.setLinger(milliseconds: 5000)
        try publisher.connect("tcp://127.0.0.1:\(ingestPort)")
        var probe = 0
        let probeDeadline = ProcessInfo.processInfo.systemUptime + 10
        while daemon.stats.pointsReceived.load(ordering: .relaxed) == 0
            && ProcessInfo.processInfo.systemUptime < probeDeadline
        {
            probe += 1
            try publisher.send(frames: [Array("bench.probe 1 \(1_700_000_000 + probe)\n".utf8)])
            Thread.sleep(forTimeInterval: 0.01)
        }
        let baseline = daemon.stats.pointsProcessed.load(ordering: .relaxed)
        var line = ""
        for s in 0..<series {
            line +=
                "bench.host\(s / 100).metric\(s % 100) \(IngestBench.signal(series: s, i: warm)) \(1_700_000_000 + warm * 60)\n"
            if s % 100 == 99 {
                try publisher.send(frames: [Array(line.utf8)])
                line = ""
            }
        }
        if !line.isEmpty { try publisher.send(frames: [Array(line.utf8)]) }
        let deadline = ProcessInfo.processInfo.systemUptime + 300
        while daemon.stats.pointsProcessed.load(ordering: .relaxed) - baseline < series
            && ProcessInfo.processInfo.systemUptime < deadline
        {
            Thread.sleep(forTimeInterval: 0.01)
        }
        publisher.close()
        context.terminate()
        Thread.sleep(forTimeInterval: 1)  // summaries flushed, allocator settled
        let setupSeconds = ProcessInfo.processInfo.systemUptime - setupStart

        // The stop, with the resident set sampled every 10 ms (and the kernel's high-water mark reset first).
        let steady = MemoryProbe.residentBytes()
        MemoryProbe.resetPeak()
        let sampler = MemoryProbe.Sampler()
        sampler.start()
        let t0 = ProcessInfo.processInfo.systemUptime
        daemon.stopIngest()
        daemon.stopPipeline()
        let stopSeconds = ProcessInfo.processInfo.systemUptime - t0
        let sampled = sampler.stop()
        let peak = max(sampled, MemoryProbe.peakBytes() ?? 0)
        let size =
            (try? FileManager.default.attributesOfItem(atPath: config.storage.database)[.size] as? NSNumber)?.intValue
            ?? 0
        return Result(
            series: series, stopSeconds: stopSeconds, steadyRSSBytes: steady, peakRSSBytes: peak,
            checkpointsWritten: daemon.stats.checkpointsWritten.load(ordering: .relaxed),
            checkpointsSkipped: daemon.stats.checkpointsSkipped.load(ordering: .relaxed),
            databaseBytes: size, setupSeconds: setupSeconds)
    }
}

/// The process's resident memory, from /proc (Linux).
enum MemoryProbe {
    /// Resident set size now, in bytes.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// VmHWM (peak resident set since start or the last reset), in bytes.
    static func peakBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kb = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kb * 1024
    }

    /// Resets VmHWM to the current resident set (writes 5 to /proc/self/clear_refs; ignored where not allowed).
    static func resetPeak() {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return }
        _ = write(fd, "5", 1)
        close(fd)
    }

    /// Samples the resident set on its own thread until stopped; returns the largest sample.
    final class Sampler: @unchecked Sendable {
        private let lock = NSLock()
        private var running = true
        private var peak = 0
        private let done = DispatchSemaphore(value: 0)

        func start() {
            let thread = Thread { [self] in
                while lock.withLock({ running }) {
                    let now = MemoryProbe.residentBytes()
                    lock.withLock { peak = max(peak, now) }
                    usleep(10_000)
                }
                done.signal()
            }
            thread.start()
        }

        func stop() -> Int {
            lock.withLock { running = false }
            done.wait()
            return lock.withLock { peak }
        }
    }
}

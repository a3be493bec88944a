import Configuration
import Daemon
import Detection
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `omen bench memory`: resident memory per series. One series is fed (and, with `trained`, trained) as the
/// daemon would, until its window and scorer histories are full; every other series is a restore of its
/// checkpoint under its own key (own buffers, as after a daemon restart). The figure is the growth of the
/// process's resident set between the empty daemon and the daemon holding all of them, divided by their number.
public enum MemoryBench {
    /// What to measure.
    public struct Options: Sendable {
        public var series = 10_000
        /// Give every series a trained model (false: learning series, fed fewer points than `warmup_points`).
        public var trained = true
        /// Points fed to the base series (0: enough to fill the window and the scorer's histories when trained,
        /// `warmup_points - 1` when learning).
        public var points = 0
        public init() {}
    }

    /// What was measured.
    public struct Result: Sendable {
        public var series: Int
        public var trained: Bool
        public var pointsFed: Int
        /// Resident set of the daemon holding every series.
        public var rssBytes: Int
        /// Resident set of the same daemon before any series existed.
        public var baselineRSSBytes: Int
        public var bytesPerSeries: Double
        public var checkpointBytesPerSeries: Double
        public var setupSeconds: Double
    }

    public static func run(_ options: Options, logger: Logger) throws -> Result {
        let start = monotonicSeconds()
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("omen-bench-memory-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = DaemonConfig()
        config.storage.database = dir.appendingPathComponent("bench.db").path
        config.storage.checkpointOnShutdown = false
        config.ingest = []
        config.alerts.endpoints = []

        let detectorConfig = config.detectorConfig(for: "bench.base")
        let learning = detectorConfig.learning
        let fullHistory = max(learning.window, detectorConfig.scoring.history) + 100
        let feed = options.points > 0 ? options.points
            : (options.trained ? fullHistory : max(1, learning.warmupPoints - 1))
        let base = SeriesDetector(key: "bench.base", config: detectorConfig)
        for i in 0..<feed {
            _ = try? base.process(timestamp: 1_700_000_000 + Double(i) * 60, value: IngestBench.signal(series: 0, i: i))
            // Trained synchronously at the daemon's cadence (as replay does); learning series never train.
            if options.trained, base.isTrainingDue() { base.install(base.makeTrainingJob().run()) }
        }
        if options.trained && base.model == nil { throw BenchError("the base series did not train in \(feed) points") }

        let daemon = try OmenDaemon(config: config, logger: logger)
        let baseline = residentBytes()
        var checkpointBytes = 0
        var batch: [SeriesDetector] = []
        for s in 0..<options.series {
            let key = "bench.host\(s / 100).metric\(s % 100)"
            let blob = base.checkpoint(key: key)
            checkpointBytes += blob.count
            do {
                batch.append(try SeriesDetector(key: key, config: config.detectorConfig(for: key), checkpoint: blob))
            } catch {
                throw BenchError("restoring the base series' checkpoint failed: \(error.description)")
            }
            if batch.count == 1000 {
                daemon.preload(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        daemon.preload(batch)
        batch = []
        let loaded = residentBytes()
        let n = max(1, options.series)
        withExtendedLifetime(daemon) {}
        return Result(series: options.series, trained: options.trained, pointsFed: feed, rssBytes: loaded,
                      baselineRSSBytes: baseline, bytesPerSeries: Double(loaded - baseline) / Double(n),
                      checkpointBytesPerSeries: Double(checkpointBytes) / Double(n),
                      setupSeconds: monotonicSeconds() - start)
    }

    /// The process's resident set in bytes, after returning freed heap pages to the system (so transient
    /// buffers of the setup do not count).
    static func residentBytes() -> Int {
        #if os(Linux)
        _ = omenMallocTrim(0)
        #endif
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

#if os(Linux)
/// glibc's `malloc_trim` (returns free heap pages to the system); not exported by the Glibc module map.
@_silgen_name("malloc_trim")
private func omenMallocTrim(_ pad: Int) -> Int32
#endif

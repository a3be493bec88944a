import Bench
import Detection
import Foundation
import History
import Logging
import Messaging
import Testing

/// The benchmarks no `omen bench` run exercises in CI: each runs small and reports a plausible figure.
@Suite("benchmarks")
struct BenchTests {
    /// The apply benchmark writes what it times, reports positive rates and removes its database.
    @Test func storeBenchmarkReportsRate() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("omen-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try Store.benchmarkApply(directory: directory, batches: 3, batchSize: 200, seriesCount: 50)
        #expect(result.eventsPerSecond > 0)
        #expect(result.worstEventsPerSecond <= result.eventsPerSecond)
        #expect(result.seriesUpdatesPerSecond > 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    /// The parser benchmark reports a positive rate for every format, and so does the bare PUB → SUB run.
    @Test func messagingBenchmarkRuns() throws {
        for format in WireFormat.allCases {
            #expect(MessagingBenchmark.parseRecordsPerSecond(format: format, records: 2_000, runs: 1) > 0)
        }
        #expect(try MessagingBenchmark.ingestPointsPerSecond(messages: 50, recordsPerMessage: 10, series: 5) > 0)
    }

    /// The scoring benchmark measures every stage once per series count.
    @Test func scorerBenchmarkCoversEveryStage() {
        let results = ScorerBenchmark.run(seriesCounts: [1, 3], points: 600, repeats: 1)
        #expect(results.count == 2 * ScorerKind.allCases.count)
        #expect(results.allSatisfy { $0.nanosecondsPerPoint > 0 && $0.bytesPerSeries > 0 })
    }

    /// `omen bench detect --quantum`: the timed values are rounded (runs of repeats start often, the frozen-run
    /// tracker's worst case), so the same series score differently from the unrounded run.
    @Test func detectBenchmarkRoundsWithAQuantum() throws {
        let plain = try DetectorBench.run(series: 2, pointsPerSeries: 200, repeats: 1, cell: .lstm, hidden: 8)
        let rounded = try DetectorBench.run(series: 2, pointsPerSeries: 200, repeats: 1, cell: .lstm, hidden: 8, quantum: 1)
        #expect(rounded.nanosecondsPerPoint.count == 1 && rounded.nanosecondsPerPoint[0] > 0)
        #expect(plain.scoreSum.isFinite && rounded.scoreSum.isFinite && plain.scoreSum != rounded.scoreSum)
    }

    /// A trained series at the defaults, fed and trained as `omen bench memory --trained` does, checkpoints in at
    /// most 32 KB (issue 11): weights once (int8 copy and residual), window, scorer. Resident memory per series is
    /// not asserted here: a few series are below the resident set's page granularity.
    @Test func trainedCheckpointFitsIn32KB() throws {
        var options = MemoryBench.Options()
        options.series = 3
        let result = try MemoryBench.run(options, logger: Logger(label: "bench-test"))
        #expect(result.checkpointBytesPerSeries > 16_384, "\(result.checkpointBytesPerSeries) bytes: no weights?")
        #expect(result.checkpointBytesPerSeries <= 32_768, "\(result.checkpointBytesPerSeries) bytes per checkpoint")
    }
}

import ArgumentParser
import Bench
import Foundation
import Logging

/// `omen bench shutdown`: stop time and memory of the final checkpoint round.
struct BenchShutdown: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shutdown",
        abstract: "Stop a pipeline of N trained series, each with one new point, and print the stop time and peak RSS.",
        discussion: """
            Setup (one real training, a copy of the weights per series, one point per series over tcp://127.0.0.1) \
            is not timed. The stop is what SIGTERM runs: ingest stops, shards drain and write their final \
            checkpoints (most-changed first, until the 20 s stop timeout), the writer commits. Needs about 0.2 MB \
            of memory per series. Use a release build.
            """)

    @Option(help: "Series, each trained and changed since its last checkpoint.") var series = 10_000
    @Flag(help: "Print one JSON line.") var json = false

    func run() throws {
        guard series > 0 else { throw ValidationError("--series must be at least 1") }
        var logger = Logger(label: "omen.bench")
        logger.logLevel = .warning
        let r = try ShutdownBench.run(series: series, logger: logger)
        let mb = { (bytes: Int) in Double(bytes) / 1_048_576 }
        let growth = r.steadyRSSBytes > 0 ? Double(r.peakRSSBytes) / Double(r.steadyRSSBytes) - 1 : .nan
        if json {
            print(
                "{\"bench\":\"shutdown\",\"series\":\(r.series),\"stop_s\":\(String(format: "%.2f", r.stopSeconds)),\"steady_rss_mb\":\(Int(mb(r.steadyRSSBytes))),\"peak_rss_mb\":\(Int(mb(r.peakRSSBytes))),\"peak_over_steady\":\(String(format: "%.3f", growth)),\"checkpoints_written\":\(r.checkpointsWritten),\"checkpoints_skipped\":\(r.checkpointsSkipped),\"database_mb\":\(Int(mb(r.databaseBytes)))}"
            )
        } else {
            print("shutdown: \(r.series) series (setup \(String(format: "%.1f", r.setupSeconds)) s, not timed)")
            print("  stop: \(String(format: "%.2f", r.stopSeconds)) s")
            print(
                "  RSS: steady \(Int(mb(r.steadyRSSBytes))) MB, peak during the stop \(Int(mb(r.peakRSSBytes))) MB (\(String(format: "%+.1f", growth * 100))%)"
            )
            print(
                "  checkpoints written \(r.checkpointsWritten), skipped at the stop timeout \(r.checkpointsSkipped); database \(Int(mb(r.databaseBytes))) MB"
            )
        }
    }
}

import ArgumentParser
import Bench
import Foundation
import Logging

/// `omen bench memory`: resident bytes per series and checkpoint bytes per series.
struct BenchMemory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Hold N series in a daemon (built, not started); print resident bytes and checkpoint bytes per series.",
        discussion: """
            One series is fed (and with --trained trained at the daemon's cadence) until its window and scorer \
            histories are full; the others are restores of its checkpoint under their own keys, each with its own \
            buffers. bytes_per_series is the growth of the resident set over the empty daemon divided by N. \
            The machine must have the memory: at today's state size N = 100,000 trained series needs some 20 GB.
            """)

    @Option(help: "Series to hold.") var series = 10_000
    @Flag(help: "Trained series (default: learning series, fed fewer points than warmup_points).") var trained = false
    @Option(help: "Points fed to the base series (0 = enough to fill the window and the scorer's histories).")
    var points = 0
    @Flag(help: "Print one JSON line.") var json = false

    func run() async throws {
        var options = MemoryBench.Options()
        options.series = series
        options.trained = trained
        options.points = points
        var logger = Logger(label: "omen.bench")
        logger.logLevel = .warning
        let r = try MemoryBench.run(options, logger: logger)
        if json {
            print("{\"bench\":\"memory\",\"series\":\(r.series),\"trained\":\(r.trained),\"points_fed\":\(r.pointsFed),\"rss_bytes\":\(r.rssBytes),\"baseline_rss_bytes\":\(r.baselineRSSBytes),\"bytes_per_series\":\(Int(r.bytesPerSeries.rounded())),\"checkpoint_bytes_per_series\":\(Int(r.checkpointBytesPerSeries.rounded()))}")
        } else {
            print("memory: \(r.series) \(r.trained ? "trained" : "learning") series (base fed \(r.pointsFed) points; setup \(String(format: "%.1f", r.setupSeconds)) s)")
            print("  resident: \(r.rssBytes / 1_048_576) MB (empty daemon \(r.baselineRSSBytes / 1_048_576) MB)")
            print("  per series: \(Int(r.bytesPerSeries.rounded())) bytes resident, \(Int(r.checkpointBytesPerSeries.rounded())) bytes of checkpoint")
        }
    }
}

import ArgumentParser
import Bench
import Foundation
import Logging
import Messaging
import Recurrent

/// `omen bench ingest`: end-to-end points/s and latency through the real pipeline.
struct BenchIngest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Publish points over tcp://127.0.0.1 to the daemon pipeline with trained models; print points/s and latency.",
        discussion: "Setup (one real training, then a copy of the weights per series) is not timed. Use a release build.")

    @Option(help: "Series, each with its own weights.") var series = 10_000
    @Option(help: "Points per series in the timed run.") var points = 200
    @Option(help: "Records per ZeroMQ message.") var batch = 100
    @Option(help: "Cell: lstm, gru or rnn.") var cell = "lstm"
    @Option(help: "Hidden units.") var hidden = 32
    @Option(help: "Shard threads (0 = one per core).") var shards = 0
    @Option(help: "Trainer threads (0 = cores / 2).") var trainers = 0
    @Option(help: "Publish at this many points/s (0 = as fast as possible); below capacity the latency is the pipeline's.")
    var rate = 0.0
    @Flag(help: "Disable retraining (the baseline for 'ingest never waits for training').") var noRetrain = false
    @Option(help: "Serve /metrics and scrape it every this many seconds during the run (0 = metrics off).")
    var metricsScrape = 0.0
    @Option(name: .customLong("repeat"), help: "Repetitions; figures are medians.") var repeats = 1
    @Flag(help: "Print one JSON line.") var json = false
    @Flag(help: "CURVE on the ingest socket with a fresh key pair for the daemon and one for the publisher (the cost of [security]).")
    var curve = false
    @OptionGroup var keys: CurveClientOptions

    func run() async throws {
        guard let kind = CellKind(rawValue: cell) else { throw ValidationError("--cell must be lstm, gru or rnn") }
        var options = IngestBench.Options()
        options.series = series
        options.pointsPerSeries = points
        options.recordsPerMessage = batch
        options.cell = kind
        options.hidden = hidden
        options.retrain = !noRetrain
        options.shards = shards
        options.trainers = trainers
        options.rate = rate
        options.metricsScrapeInterval = metricsScrape
        if let given = try keys.load(), let serverKey = keys.serverKey {
            // The bench runs both ends, so --server-key must be the daemon's secret certificate here.
            options.curve = (try CurveCertificate.load(path: serverKey, requireSecret: true), given.client)
        } else if curve {
            options.curve = (try CurveCertificate.generate(name: "bench-server"), try CurveCertificate.generate(name: "bench"))
        }
        var logger = Logger(label: "omen.bench")
        logger.logLevel = .warning
        var results: [IngestBench.Result] = []
        for _ in 0..<max(1, repeats) { results.append(try IngestBench.run(options, logger: logger)) }
        func median(_ f: (IngestBench.Result) -> Double) -> Double {
            let v = results.map(f).sorted()
            return v[v.count / 2]
        }
        let throughput = median(\.pointsPerSecond)
        let p50 = median(\.p50Microseconds)
        let p99 = median(\.p99Microseconds)
        let last = results[results.count - 1]
        // CPU microseconds per point by thread role, from the median-throughput run (where the time goes).
        let typical = results.sorted { $0.pointsPerSecond < $1.pointsPerSecond }[results.count / 2]
        let perPoint = typical.cpuSecondsByRole.filter { $0.value > 0 }.sorted { $0.key < $1.key }
            .map { (role: $0.key, us: $0.value * 1e6 / Double(max(1, typical.points))) }
        let cpuJSON = perPoint.map { "\"\($0.role)\":\(String(format: "%.2f", $0.us))" }.joined(separator: ",")
        if json {
            print("{\"bench\":\"ingest\",\"series\":\(series),\"points\":\(last.points),\"points_per_s\":\(Int(throughput)),\"p50_us\":\(Int(p50)),\"p99_us\":\(Int(p99)),\"trainings\":\(last.trainingsDone),\"training_backlog\":\(last.trainingBacklog),\"shards\":\(last.shards),\"trainers\":\(last.trainers),\"retrain\":\(!noRetrain),\"curve\":\(options.curve != nil),\"rate\":\(Int(self.rate)),\"metrics_scrape_s\":\(metricsScrape),\"scrapes\":\(last.scrapes),\"repeats\":\(results.count),\"cpu_us_per_point\":{\(cpuJSON)}}")
        } else {
            print("ingest: \(series) series, \(last.points) points in \(String(format: "%.2f", last.seconds)) s (setup \(String(format: "%.1f", last.setupSeconds)) s, not timed)")
            print("  points/s (median of \(results.count)): \(Int(throughput))\(self.rate > 0 ? " (publisher paced at \(Int(self.rate)))" : "")")
            print("  latency receive→scored: p50 \(Int(p50)) µs, p99 \(Int(p99)) µs")
            print("  /metrics: " + (metricsScrape > 0 ? "on, scraped every \(metricsScrape) s (\(last.scrapes) scrapes in the last run)" : "off"))
            print("  CPU µs per point by thread: " + perPoint.map { "\($0.role) \(String(format: "%.2f", $0.us))" }.joined(separator: ", "))
            print("  trainings during the run: \(last.trainingsDone), backlog at the end: \(last.trainingBacklog) series; shards \(last.shards), trainers \(last.trainers), retraining \(noRetrain ? "off" : "on"), CURVE \(options.curve == nil ? "off" : "on")")
        }
    }
}

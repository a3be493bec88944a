import ArgumentParser
import Bench
import Detection
import Foundation
import History
import Messaging

/// `omen bench score`: the scoring stage alone, per point, for every stage.
struct BenchScore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Measure Scorer.score per point for each scoring stage, on one series and on many (release build).")

    @Option(help: "Points scored per stage and series count.") var points = 1_000_000
    @Option(name: .customLong("repeat"), help: "Repetitions; the figure is their median.") var repeats = 3

    func validate() throws {
        guard points >= 1, repeats >= 1 else { throw ValidationError("--points and --repeat must be at least 1") }
    }

    func run() throws {
        for result in ScorerBenchmark.run(points: points, repeats: repeats) { print(result) }
    }
}

/// `omen bench parse`: the wire-format parsers alone, then a bare PUB → SUB over tcp://127.0.0.1 with parsing.
struct BenchParse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parse",
        abstract: "Measure records per second each wire-format parser reads, and a bare ZeroMQ ingest (no detection).")

    @Option(help: "Records parsed per format and run.") var records = 200_000
    @Option(help: "Messages sent through the bare ZeroMQ ingest.") var messages = 20_000

    func validate() throws {
        guard records >= 1, messages >= 1 else { throw ValidationError("--records and --messages must be at least 1") }
    }

    func run() throws {
        for format in WireFormat.allCases {
            let rate = MessagingBenchmark.parseRecordsPerSecond(format: format, records: records)
            print("parse \(format.rawValue): \(Int(rate)) records/s")
        }
        let rate = MessagingBenchmark.parseRecordsPerSecond(format: .graphite, records: records, autodetect: true)
        print("parse graphite (auto-detected): \(Int(rate)) records/s")
        print("zmq ingest + parse: \(Int(try MessagingBenchmark.ingestPointsPerSecond(messages: messages))) points/s")
    }
}

/// `omen bench store`: SQLite write batches as the writer commits them.
struct BenchStore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Measure episode events and series updates the store commits per second (a temporary database).")

    @Option(help: "Folder of the temporary database (removed afterwards).") var directory = FileManager.default.temporaryDirectory.path
    @Option(help: "Timed batches of each kind.") var batches = 30
    @Option(help: "Rows per batch (one transaction).") var batchSize = 1_000

    func validate() throws {
        guard batches >= 1, batchSize >= 1 else { throw ValidationError("--batches and --batch-size must be at least 1") }
    }

    func run() throws {
        let r = try Store.benchmarkApply(directory: directory, batches: batches, batchSize: batchSize)
        print("store: \(r.batches) batches of \(r.batchSize) rows")
        print("  episode events: \(Int(r.eventsPerSecond)) rows/s median, \(Int(r.worstEventsPerSecond)) slowest batch")
        print("  series updates: \(Int(r.seriesUpdatesPerSecond)) rows/s median")
    }
}

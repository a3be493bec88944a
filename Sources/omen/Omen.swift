import ArgumentParser
import Messaging

/// The `omen` command: the daemon and the tools around it. Each subcommand parses and prints; the work
/// lives in the library modules.
@main
struct Omen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "omen",
        abstract: "Anomaly detection for streaming time series with per-series recurrent models.",
        discussion: """
            Metric producers publish points over ZeroMQ; `omen run` predicts every series with its own LSTM, \
            stores anomaly episodes in SQLite and publishes alerts. The other commands query and feed it.
            """,
        version: OmenVersion.string,
        subcommands: [
            RunCommand.self, StatusCommand.self, AnomaliesCommand.self, ShowCommand.self, PlotCommand.self,
            LabelCommand.self, MuteCommand.self, UnmuteCommand.self, SeriesCommand.self, TailCommand.self,
            PublishCommand.self, ReplayCommand.self, KeysCommand.self, BenchCommand.self,
        ])
}

/// `omen bench …`: benchmarks that print figures (release build).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the engine and the pipeline (build with `swift build -c release`).",
        subcommands: [
            BenchStep.self, BenchTrain.self, BenchDetect.self, BenchIngest.self,
            BenchScore.self, BenchParse.self, BenchStore.self, BenchKafka.self, BenchCleaner.self, BenchShutdown.self,
            BenchMemory.self,
        ])
}

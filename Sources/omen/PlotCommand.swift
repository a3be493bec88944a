import ArgumentParser
import Configuration
import Detection
import Foundation
import History
import Replay

/// `omen plot ID --output episode.svg`: the points around one episode, with prediction, band and score trace.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw one anomaly episode in context as SVG: the points around it, prediction, band, score trace.",
        discussion: """
            The points come from the series' stored window (its last checkpoint: the newest `learning.window` points \
            as of up to `storage.checkpoint_interval` ago), re-scored with the stored model: prediction and band are \
            that model's, the score trace is re-computed over the window alone (its first `scoring.min_history` \
            points score 0). The episode is marked with the value, band and score the daemon stored at its peak. \
            When the episode is older than the window, or to see exactly what a replay gives, pass --replay with a \
            CSV of the series (timestamp,value): it runs through the same detector as `omen replay`.
            Pass --config with the daemon's configuration file when it changes [model] (the stored model must fit it).
            Exit status: 0 on success, 1 on errors.
            """)

    @Argument(help: ArgumentHelp("The episode id.", valueName: "id"))
    var id: Int64

    @Option(help: ArgumentHelp("Write the SVG here.", valueName: "file"))
    var output: String

    @Option(help: ArgumentHelp("Points shown before the episode opened.", valueName: "n"))
    var before = 300

    @Option(help: ArgumentHelp("Points shown after the episode closed (or its peak, while open).", valueName: "n"))
    var after = 100

    @Option(help: ArgumentHelp("Replay this CSV (timestamp,value) instead of using the stored window.", valueName: "file"))
    var replay: String?

    @Option(help: ArgumentHelp("With --replay: the value column.", valueName: "name"))
    var column: String?

    @Option(help: ArgumentHelp("The daemon's configuration file (TOML).", valueName: "file"))
    var config: String?

    @OptionGroup var database: HistoryDatabaseOption

    func validate() throws {
        guard before >= 0, after >= 0 else { throw ValidationError("--before and --after must be 0 or more points.") }
    }

    func run() throws {
        do {
            let store = try Store.openReadOnly(path: database.path)
            guard let episode = try store.anomaly(id: id) else {
                throw CommandError("no episode with id \(id); `omen anomalies` lists the ids")
            }
            var daemonConfig = DaemonConfig()
            if let config { daemonConfig = try ConfigLoader.load(path: config) }
            let detectorConfig = daemonConfig.detectorConfig(for: episode.series)
            let rows: [ReplayRow]
            let source: String
            if let replay {
                let input = try CSVSeriesReader(column: column).read(path: replay)
                rows = ReplayRunner(config: detectorConfig, series: episode.series).run(input).rows
                source = "replay of \(replay) through the detector"
            } else {
                guard let checkpoint = try store.checkpoint(series: episode.series) else {
                    throw CommandError("\(episode.series) has no stored checkpoint yet (one is written every "
                        + "storage.checkpoint_interval and at shutdown); try again later or pass --replay FILE.csv")
                }
                let detector: SeriesDetector
                do {
                    detector = try SeriesDetector(key: episode.series, config: detectorConfig, checkpoint: checkpoint.blob)
                } catch {
                    throw CommandError("the stored checkpoint of \(episode.series) cannot be read with this "
                        + "configuration (\(error)); pass --config with the daemon's file")
                }
                guard let trace = detector.rescoreWindow() else {
                    throw CommandError("\(episode.series) has no trained model in its checkpoint; pass --replay FILE.csv")
                }
                rows = trace.map { p in
                    ReplayRow(timestamp: p.timestamp, value: p.value, prediction: p.outcome.prediction,
                              lower: p.outcome.lower, upper: p.outcome.upper, score: p.outcome.score,
                              flag: p.outcome.flag)
                }
                source = "stored window of \(rows.count) points re-scored with model version \(detector.modelVersion)"
            }
            let end = episode.closedAt ?? episode.peakAt
            guard let first = rows.first, let last = rows.last, first.timestamp <= end, last.timestamp >= episode.openedAt
            else {
                let span = rows.first.map { "\(TimeArgument.formatISO8601($0.timestamp)) .. "
                    + "\(TimeArgument.formatISO8601(rows.last?.timestamp ?? $0.timestamp))" } ?? "nothing"
                throw CommandError("episode \(id) (\(TimeArgument.formatISO8601(episode.openedAt))) is outside the "
                    + "points available (\(span)); pass --replay with a CSV of \(episode.series) that covers it")
            }
            let startIndex = rows.firstIndex { $0.timestamp >= episode.openedAt } ?? 0
            let endIndex = rows.lastIndex { $0.timestamp <= end } ?? rows.count - 1
            let shown = Array(rows[max(0, startIndex - before)...min(rows.count - 1, endIndex + after)])
            var plot = SVGPlot(title: "\(episode.series): episode \(episode.number) (id \(id))")
            plot.subtitle = source
            plot.threshold = episode.threshold.isFinite ? episode.threshold : detectorConfig.episodes.threshold
            plot.episode = EpisodeMark(id: episode.id, openedAt: episode.openedAt, closedAt: episode.closedAt,
                                       peakAt: episode.peakAt, value: episode.value, predicted: episode.predicted,
                                       lower: episode.lower, upper: episode.upper, score: episode.peakScore)
            try ReplayRunner.write(plot.render(shown), to: output)
            print("wrote \(output): \(shown.count) points around episode \(id) (\(source))")
        } catch {
            throw exitWithMessage(error)
        }
    }
}

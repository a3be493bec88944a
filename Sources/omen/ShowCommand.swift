import ArgumentParser
import Foundation
import History

/// `omen show ID`: one episode with its explanation.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one anomaly episode: value, prediction, band, score, model version and label.",
        discussion: """
            ID is the episode's id (the ID column of `omen anomalies`, the `id` of an alert). The score is \
            explained as the tail probability behind it (score = s / (s + 4), p = 10^-s) and the value's distance \
            from the prediction in half-widths of the expected band. `omen plot ID` draws the points around it.
            Exit status: 0 on success, 1 when there is no such episode or on errors.
            """)

    /// Output formats of `omen show`.
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Argument(help: ArgumentHelp("The episode id.", valueName: "id"))
    var id: Int64

    @Option(help: ArgumentHelp("Output format: text or json (one object).", valueName: "format"))
    var format: Format = .text

    @OptionGroup var database: HistoryDatabaseOption

    func run() throws {
        do {
            let store = try Store.openReadOnly(path: database.path)
            guard let episode = try store.anomaly(id: id) else {
                throw CommandError("no episode with id \(id); `omen anomalies` lists the ids")
            }
            let report = EpisodeReport(episode: episode, label: try store.label(ofAnomaly: id),
                                       model: try store.modelSummary(series: episode.series))
            print(format == .json ? report.json() : report.text(), terminator: "")
        } catch {
            throw exitWithMessage(error)
        }
    }
}

import ArgumentParser
import Foundation
import History

/// `omen series`: every series the daemon has seen, with its model state and latest score.
struct SeriesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "series",
        abstract: "List every series: points seen, model state, model version, last seen, last score, last retrain.",
        discussion: """
            Reads the daemon's SQLite file while the daemon runs. State is learning (collecting points before the \
            first training; no alerts yet) or trained. The table shows UTC times; json and csv carry Unix seconds.
            Exit status: 0 on success (also when there are no series yet), 1 on errors.
            """)

    @Option(help: ArgumentHelp("Output format: table, json (one array) or csv.", valueName: "format"))
    var format: ListingFormat = .table

    @Flag(help: "Print counts instead of the list: series by state, checkpoints stored, and the daemon's residency counters (refused at limits.max_series with an example key, evicted when idle, restored, idle now).")
    var summary = false

    @OptionGroup var database: HistoryDatabaseOption

    func run() throws {
        do {
            if summary {
                let summaries = try database.paths.map { path in try Store.openReadOnly(path: path).seriesSummary() }
                print(Listing.summary(SeriesSummary.merged(summaries), format: format), terminator: "")
                return
            }
            let lists = try database.paths.map { path in try Store.openReadOnly(path: path).series() }
            let records = lists.count == 1 ? lists[0] : HistoryMerge.series(lists)
            print(Listing.series(records, format: format), terminator: "")
        } catch {
            throw exitWithMessage(error)
        }
    }
}

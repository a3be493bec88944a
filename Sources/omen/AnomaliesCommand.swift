import ArgumentParser
import Detection
import Foundation
import History

/// `omen anomalies`: lists anomaly episodes from the daemon's database, newest first.
struct AnomaliesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anomalies",
        abstract: "List anomaly episodes from the history database, newest first.",
        discussion: """
            Reads the daemon's SQLite file while the daemon runs (it never writes to it). Times are a duration \
            back from now (90s, 15m, 24h, 7d, 1h30m), a Unix timestamp, or ISO-8601 (2026-11-27T10:00:00Z; \
            no zone means UTC). --since keeps episodes still going on at or after that time, so an episode opened \
            earlier and still open is listed. The table shows UTC times; json and csv carry Unix seconds.
            Exit status: 0 on success (also when nothing matches), 1 on errors.
            """)

    @Option(help: ArgumentHelp("Only series whose key matches this glob (*, ?, [abc]; case-sensitive).",
                               valueName: "glob"))
    var series: String?

    @Option(help: ArgumentHelp("Only episodes going on at or after this time (24h = the last 24 hours).",
                               valueName: "duration|time"))
    var since: String?

    @Option(help: ArgumentHelp("Only episodes opened at or before this time.", valueName: "duration|time"))
    var until: String?

    @Option(name: .customLong("min-score"),
            help: ArgumentHelp("Only episodes whose peak score is at least this (0 to 1).", valueName: "score"))
    var minScore: Double?

    @Flag(name: .customLong("open"), help: "Only episodes that are still open.")
    var openOnly = false

    @Option(help: ArgumentHelp("Only episodes labelled not_anomaly, confirmed, labelled (either), or none.",
                               valueName: "label"))
    var label: String?
    @Option(help: ArgumentHelp("Only episodes whose peak had this cause (repeat for several): \(AnomalyCause.names).",
                               valueName: "cause"))
    var cause: [String] = []

    @Flag(help: """
        Sort by hindsight score, highest first: closed episodes re-read with context from both sides (high = a \
        deviation the series came back from; low = a level it then kept). Episodes not reviewed come last.
        """)
    var hindsight = false

    @Option(help: ArgumentHelp("At most this many episodes, newest first; 0 lists all.", valueName: "n"))
    var limit = 100

    @Option(help: ArgumentHelp("Output format: table, json (one array) or csv.", valueName: "format"))
    var format: ListingFormat = .table

    @OptionGroup var database: HistoryDatabaseOption

    func run() throws {
        do {
            let query = try makeQuery(now: Date().timeIntervalSince1970)
            let lists = try database.paths.map { path in try Store.openReadOnly(path: path).anomalies(query) }
            let records = lists.count == 1 ? lists[0] : HistoryMerge.anomalies(lists, limit: query.limit)
            print(Listing.anomalies(records, format: format), terminator: "")
        } catch {
            throw exitWithMessage(error)
        }
    }

    /// Argument checks live here rather than in `validate()` so that every error exits with status 1.
    func makeQuery(now: Double) throws -> AnomalyQuery {
        guard limit >= 0 else {
            throw CommandError("--limit must be 0 (all) or a positive number of episodes, not \(limit)")
        }
        if let minScore, !(minScore.isFinite && minScore >= 0 && minScore <= 1) {
            throw CommandError("--min-score must be a number from 0 to 1, not \(minScore)")
        }
        let sinceTime = try since.map { text throws(TimeArgumentError) in try TimeArgument.parse(text, now: now) }
        let untilTime = try until.map { text throws(TimeArgumentError) in try TimeArgument.parse(text, now: now) }
        if let sinceTime, let untilTime, sinceTime > untilTime {
            throw CommandError("--since (\(TimeArgument.formatISO8601(sinceTime))) is after --until "
                + "(\(TimeArgument.formatISO8601(untilTime))); swap them")
        }
        var labelFilter: LabelFilter?
        if let label {
            guard let filter = LabelFilter(argument: label) else {
                throw CommandError("--label must be not_anomaly, confirmed, labelled or none, not \(label)")
            }
            labelFilter = filter
        }
        return AnomalyQuery(seriesGlob: series, since: sinceTime, until: untilTime, minScore: minScore,
                            openOnly: openOnly, limit: limit, label: labelFilter, byHindsight: hindsight,
                            causes: try AnomalyCause.parseArguments(cause))
    }
}

/// `--database FILE`, shared by the history commands; given more than once (one file per instance of a Kafka
/// group), the files are read as one.
struct HistoryDatabaseOption: ParsableArguments {
    @Option(name: .customLong("database"),
            help: ArgumentHelp("The daemon's SQLite file (under systemd: /var/lib/omen/omen.db); repeat it to merge "
                               + "the files of several instances.", valueName: "file"))
    var paths: [String] = ["./omen.db"]

    /// The one file of a command that reads or edits a single database (show, plot, label, mute): the last given.
    var path: String { paths.last ?? "./omen.db" }
}

extension ListingFormat: ExpressibleByArgument {}

/// A command-line mistake, described as what to type instead.
struct CommandError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}

/// Prints `error` on stderr as `omen: …` and returns the exit status 1 to throw.
func exitWithMessage(_ error: any Error) -> ExitCode {
    writeStandardError("omen: \(error)")
    return ExitCode.failure
}

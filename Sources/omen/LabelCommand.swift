import ArgumentParser
import Foundation
import History

/// `omen label ID --not-anomaly | --confirmed`: feedback on an episode, which the running daemon learns from.
struct LabelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label",
        abstract: "Label an anomaly episode as not an anomaly (the series learns from it) or as confirmed.",
        discussion: """
            ID is the episode's id (the ID column of `omen anomalies`, the `id` of an alert). --not-anomaly teaches \
            that series' detector that deviations like this one are normal for it: later points that deviate from \
            their prediction the same way and by at most [feedback] tolerance more than the episode's peak keep only \
            part of their score, while larger deviations still alert; the lesson fades with [feedback] half_life. It \
            never silences the series. --confirmed records a real anomaly (and undoes an earlier --not-anomaly). \
            Labelling again replaces the label. The running daemon picks labels up within 2 seconds, and a \
            restarted one re-reads them all.
            Exit status: 0 on success, 1 when there is no such episode or the database cannot be written.
            """)

    @Argument(help: ArgumentHelp("The episode id.", valueName: "id"))
    var id: Int64

    @Flag(name: .customLong("not-anomaly"), help: "A false positive: deviations like this are normal for the series.")
    var notAnomaly = false

    @Flag(help: "A real anomaly.")
    var confirmed = false

    @Option(help: ArgumentHelp("A note stored with the label.", valueName: "text"))
    var note: String?

    @OptionGroup var database: HistoryDatabaseOption

    func validate() throws {
        guard notAnomaly != confirmed else { throw ValidationError("Give exactly one of --not-anomaly and --confirmed.") }
    }

    func run() throws {
        do {
            guard FileManager.default.fileExists(atPath: database.path) else {
                throw StoreError.notFound(path: database.path)
            }
            let store = try Store(path: database.path)
            defer { try? store.close() }
            let kind: LabelKind = notAnomaly ? .notAnomaly : .confirmed
            guard let label = try store.label(anomalyID: id, kind: kind, note: note,
                                              at: Date().timeIntervalSince1970) else {
                throw CommandError("no episode with id \(id); `omen anomalies` lists the ids")
            }
            print("episode \(label.anomalyID) of \(label.series) labelled \(label.kind.rawValue)"
                + (kind == .notAnomaly ? "; the running daemon applies it within 2 s" : ""))
        } catch {
            throw exitWithMessage(error)
        }
    }
}

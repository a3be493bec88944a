import ArgumentParser
import Foundation
import Detection
import History

/// `omen mute GLOB --for 2h` and `omen mute --list`: maintenance windows.
struct MuteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mute",
        abstract: "Mute series by key glob for a while (maintenance), or list the mutes.",
        discussion: """
            While a mute holds, the series whose keys match GLOB (* any run of characters, ? one character; quote \
            it in the shell) open no episodes and raise no alerts, and their points are not learned from (loss \
            weight 0, like points inside episodes); an episode open when the mute starts is closed with reason \
            "muted". They are still scored (`omen series` shows their last score). Mutes are stored in the \
            database, survive restarts, and reach the running daemon within 2 seconds. `omen unmute ID` ends one early.
            Exit status: 0 on success, 1 on errors.
            """)

    @Argument(help: ArgumentHelp("Series key glob to mute.", valueName: "glob"))
    var glob: String?

    @Option(name: .customLong("for"),
            help: ArgumentHelp("How long the mute holds: 90s, 15m, 2h, 1d, 1h30m.", valueName: "duration"))
    var duration: String?

    @Option(help: ArgumentHelp("When the mute starts (default now): a Unix timestamp or ISO-8601 time.",
                               valueName: "time"))
    var from: String?

    @Option(help: ArgumentHelp("Why (shown by --list).", valueName: "text"))
    var reason: String?

    @Flag(help: "List the mutes that hold now or later instead of adding one.")
    var list = false

    @Flag(help: "With --list: also the mutes that ended or were lifted.")
    var all = false

    @Option(help: ArgumentHelp("With --list: table, json (one array) or csv.", valueName: "format"))
    var format: ListingFormat = .table

    @OptionGroup var database: HistoryDatabaseOption

    func validate() throws {
        if list {
            guard glob == nil, duration == nil, from == nil, reason == nil else {
                throw ValidationError("--list takes no GLOB, --for, --from or --reason.")
            }
        } else {
            guard let glob, !glob.isEmpty else { throw ValidationError("Give a series GLOB to mute (or --list).") }
            guard duration != nil else { throw ValidationError("Give --for DURATION, e.g. --for 2h.") }
            guard !all else { throw ValidationError("--all goes with --list.") }
        }
    }

    func run() throws {
        let now = Date().timeIntervalSince1970
        do {
            if list {
                let store = try Store.openReadOnly(path: database.path)
                print(Listing.mutes(try store.mutes(at: now, includeEnded: all), now: now, format: format), terminator: "")
                return
            }
            guard let glob, let duration else { return }
            guard let seconds = DurationText.parse(duration), seconds > 0 else {
                throw CommandError("--for must be a positive duration such as 90s, 15m, 2h, 1d or 1h30m, not \(duration)")
            }
            let start = try from.map { text throws(TimeArgumentError) in try TimeArgument.parse(text, now: now) } ?? now
            guard FileManager.default.fileExists(atPath: database.path) else {
                throw StoreError.notFound(path: database.path)
            }
            let store = try Store(path: database.path)
            defer { try? store.close() }
            let mute = try store.addMute(pattern: glob, startsAt: start, endsAt: start + seconds, reason: reason, at: now)
            print("mute \(mute.id): \(mute.pattern) from \(TimeArgument.formatISO8601(mute.startsAt)) until "
                + "\(TimeArgument.formatISO8601(mute.endsAt)); `omen unmute \(mute.id)` ends it early")
        } catch {
            throw exitWithMessage(error)
        }
    }
}

/// `omen unmute ID`: ends a mute early.
struct UnmuteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmute",
        abstract: "End a mute now (its id is in `omen mute --list`).",
        discussion: "The running daemon applies it within 2 seconds. Exit status: 0 on success, 1 on errors.")

    @Argument(help: ArgumentHelp("The mute id.", valueName: "id"))
    var id: Int64

    @OptionGroup var database: HistoryDatabaseOption

    func run() throws {
        let now = Date().timeIntervalSince1970
        do {
            guard FileManager.default.fileExists(atPath: database.path) else {
                throw StoreError.notFound(path: database.path)
            }
            let store = try Store(path: database.path)
            defer { try? store.close() }
            guard let mute = try store.liftMute(id: id, at: now) else {
                throw CommandError("no mute with id \(id); `omen mute --list --all` lists them")
            }
            if let lifted = mute.liftedAt, lifted == now {
                print("mute \(mute.id) (\(mute.pattern)) lifted")
            } else {
                print("mute \(mute.id) (\(mute.pattern)) was already over")
            }
        } catch {
            throw exitWithMessage(error)
        }
    }
}

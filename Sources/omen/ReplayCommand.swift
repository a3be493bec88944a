// `omen replay`: parses options, calls the Replay module, prints. The work lives in Replay.

import ArgumentParser
import Configuration
import Detection
import Replay

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Backtests a CSV through the daemon's per-series detector.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a CSV series through the same per-series detector the daemon runs.",
        usage: "omen replay <file> [--config <file>] [--output <file>] [--plot <file>] [--series <key>] [--column <name>] [--SETTING <value> ...]",
        discussion: """
        Reads `timestamp,value` (NAB layout, UTC; ISO-8601 and Unix seconds also accepted) or a named value \
        column, retrains synchronously at the daemon's point counts with a fixed seed (two runs give identical \
        output), and writes one row per input row: timestamp,value,prediction,lower,upper,anomaly_score,flag,cause (then \
        episode,hindsight_score with --hindsight).

        SETTINGS: every key of omen.toml's [model], [episodes], [scoring], [learning] and [training] tables is a \
        flag, spelled with dashes, with the file's values and ranges (--value-weight 0.3, --cell gru, \
        --retrain-interval 1h); a true/false key alone sets it (--frozen-detection). Settings override the \
        configuration file. A name two tables share means the first in that order; qualify it for the other \
        (--training.seed 7). Short spellings: \(ReplayCommand.aliases.map { "\($0.flag) = \($0.means)" }.joined(separator: ", ")).

        \(ReplayCommand.settingsHelp)
        """)

    @Option(help: "Series key the detector sees (it also seeds the model). Default: the file name.")
    var series: String?

    @Option(help: "Name of the value column. Default: 'value', else the first non-timestamp column.")
    var column: String?

    @Option(help: "Daemon configuration file (TOML) whose model, training, learning, episodes, scoring and overrides apply.")
    var config: String?

    @Option(help: "Write the scores CSV here (default: standard output).")
    var output: String?

    @Option(help: "Write an SVG plot of the series, prediction, band, episodes, retrains and score trace here.")
    var plot: String?

    @Option(help: ArgumentHelp("Plot only points at or after this time (as in the CSV: ISO-8601 or Unix seconds).",
                               valueName: "time"))
    var from: String?

    @Option(help: ArgumentHelp("Plot only points at or before this time.", valueName: "time"))
    var to: String?

    @Flag(help: """
        Review every episode in hindsight when it closes (a bidirectional model fitted on the window, as the daemon \
        does on its trainer pool) and add episode and hindsight_score columns: each episode's rows carry its score.
        """)
    var hindsight = false

    @Flag(help: """
        Add each point's scoring terms as columns: the surprise (-log10 p) of the value, the time of day, the \
        residual, the Gaussian head and the step change, whether the series is flat, their combined surprise before \
        the daily rate, and log10 of the points a day (calibrated stage; scripts/nab-terms.py recombines them).
        """)
    var terms = false

    @Argument(parsing: .allUnrecognized, help: "The CSV file (with a header row), then detector settings.")
    var arguments: [String] = []

    /// Older short spellings of three settings.
    static let aliases: [(flag: String, means: String, setting: (name: String, value: String?))] = [
        ("--scorer X", "--kind X", ("scoring.kind", nil)),
        ("--no-calendar", "--calendar off", ("model.calendar", "off")),
        ("--frozen", "--frozen-detection", ("scoring.frozen_detection", "true")),
    ]

    /// The settings, table by table, with what each accepts (generated from the key tables).
    static var settingsHelp: String {
        var lines: [String] = []
        var table = ""
        var seen: Set<String> = []
        for key in DetectorSettings.keys {
            if key.table != table {
                table = key.table
                lines.append("[\(table)]")
            }
            // A name an earlier table has is reached qualified.
            let flag = seen.insert(key.name).inserted ? key.flag : "--\(key.table)." + key.flag.dropFirst(2)
            lines.append("  \(flag)\(key.isFlag ? "" : " <value>"): \(key.expects)")
        }
        return lines.joined(separator: "\n")
    }

    /// Reads the file name and the settings, and applies them (and the configuration file) once, so that a
    /// mistake is reported with this command's usage before any work.
    func validate() throws {
        let (file, settings) = try fileAndSettings()
        _ = try detectorConfig(series: seriesName(file), settings: settings)
        for (flag, text) in [("--from", from), ("--to", to)] {
            if let text, Timestamps.parse(text) == nil {
                throw ValidationError("\(flag) must be a time as the CSV writes it (2014-04-01 00:00:00, ISO-8601 or Unix seconds), not \(text)")
            }
        }
        if from != nil || to != nil, plot == nil { throw ValidationError("--from and --to choose what --plot draws; add --plot FILE") }
    }

    /// The series key: `--series`, else the file name.
    func seriesName(_ file: String) -> String {
        series ?? String(file.split(separator: "/").last ?? Substring(file))
    }

    /// The CSV file and the settings, read from the arguments the parser did not recognise.
    func fileAndSettings() throws -> (file: String, settings: [(name: String, value: String?)]) {
        var files: [String] = []
        var settings: [(name: String, value: String?)] = []
        var i = 0
        while i < arguments.count {
            let word = arguments[i]
            i += 1
            guard word.hasPrefix("--") else {
                files.append(word)
                continue
            }
            var name = String(word.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if let alias = Self.aliases.first(where: { $0.flag.split(separator: " ")[0] == "--" + name }) {
                name = alias.setting.name
                value = value ?? alias.setting.value
            }
            if value == nil {
                let isFlag: Bool
                do {
                    isFlag = try DetectorSettings.isFlag(name)
                } catch {
                    throw ValidationError("\(error)")
                }
                let next = i < arguments.count ? arguments[i] : nil
                if !isFlag || next == "true" || next == "false" {
                    guard let next else { throw ValidationError("\(word) needs a value") }
                    value = next
                    i += 1
                }
            }
            settings.append((name, value))
        }
        guard files.count == 1, let file = files.first else {
            throw ValidationError(files.isEmpty ? "name the CSV file to replay" : "one CSV file at a time, got \(files.joined(separator: " "))")
        }
        return (file, settings)
    }

    /// The detector configuration: defaults (or the file's, for this series), then the settings.
    func detectorConfig(series name: String, settings: [(name: String, value: String?)]) throws -> DetectorConfig {
        do {
            let base = try config.map { try ConfigLoader.load(path: $0).detectorConfig(for: name) } ?? DetectorConfig()
            return try DetectorSettings.apply(settings, to: base)
        } catch {
            throw ValidationError("configuration error: \(error)")
        }
    }

    func run() throws {
        let (file, settings) = try fileAndSettings()
        let rows = try CSVSeriesReader(column: column).read(path: file)
        let name = seriesName(file)
        let detector = try detectorConfig(series: name, settings: settings)
        let runner = ReplayRunner(config: detector, series: name, hindsight: hindsight, terms: terms)
        let tty = isatty(STDERR_FILENO) == 1
        let result = runner.run(rows, progress: tty ? { done, total in Self.progress(done, total) } : nil)
        if tty { Self.stderr("\r\u{1B}[K") }
        if let output {
            try ReplayRunner.write(result.csv(), to: output)
        } else {
            print(result.csv(), terminator: "")
        }
        if let plot {
            var svg = SVGPlot(title: name)
            svg.threshold = detector.episodes.threshold
            let rows = SVGPlot.crop(result.rows, from: from.flatMap(Timestamps.parse), to: to.flatMap(Timestamps.parse))
            try ReplayRunner.write(svg.render(rows), to: plot)
        }
        let summary = result.summary.paragraph
        if output != nil { print(summary) } else { Self.stderr(summary + "\n") }
    }

    static func progress(_ done: Int, _ total: Int) {
        let width = 40
        let filled = total > 0 ? done * width / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        stderr("\r[\(bar)] \(done)/\(total)")
    }

    static func stderr(_ s: String) {
        var bytes = Array(s.utf8)
        _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

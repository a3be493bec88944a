// Runs a series through the daemon's own per-series detector, with retraining done synchronously at the
// point counts the daemon uses (`SeriesDetector.isTrainingDue` without wall time), so that a replay is
// deterministic and shows what the daemon would have flagged.

import Detection

/// One output row of a replay.
public struct ReplayRow: Sendable, Equatable {
    /// The input timestamp text, echoed.
    public var text: String
    public var timestamp: Double
    public var value: Double
    /// The model's prediction (nil while learning or for a rejected point).
    public var prediction: Double?
    public var lower: Double
    public var upper: Double
    public var score: Double
    /// Inside an anomaly episode.
    public var flag: Bool
    /// A retraining ran right after this point.
    public var retrained: Bool
    /// The evidence behind a score above 0 (`AnomalyCause`), nil where the score is 0.
    public var cause: AnomalyCause? = nil
    /// With hindsight review: the number of the episode this row belongs to (its close row included) and that
    /// episode's hindsight score; nil outside episodes or without review.
    public var episode: Int? = nil
    public var hindsight: Double? = nil
    /// With `terms`: the scorer's terms for this row (nil while learning, or for a refused point).
    public var terms: ScoreTerms? = nil
}

/// What a replay did, for the closing summary.
public struct ReplaySummary: Sendable, Equatable {
    public var points: Int
    /// Points the detector refused (out of order or duplicate timestamps); scored 0 in the output.
    public var rejectedPoints: Int
    public var episodes: Int
    /// Episodes by the cause of their opening point; an episode opened without one (while learning) is not counted
    /// here.
    public var episodesByCause: [AnomalyCause: Int] = [:]
    public var retrainsAccepted: Int
    public var retrainsRejected: Int
    public var seconds: Double

    /// One paragraph for a human.
    public var paragraph: String {
        var s = "Replayed \(points) points in \(Self.fixed(seconds, 2)) s: \(episodes) anomaly episode"
        s += episodes == 1 ? "" : "s"
        if !episodesByCause.isEmpty {
            // Most first, ties by name, so two runs print the same line.
            let sorted = episodesByCause.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.rawValue < $1.key.rawValue }
            s += " (" + sorted.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ") + ")"
        }
        s += ", \(retrainsAccepted + retrainsRejected) retrain"
        s += retrainsAccepted + retrainsRejected == 1 ? "" : "s"
        s += " (\(retrainsAccepted) accepted, \(retrainsRejected) rejected)"
        if rejectedPoints > 0 { s += ", \(rejectedPoints) points refused (timestamps not increasing)" }
        return s + "."
    }

    static func fixed(_ v: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let r = (v * scale).rounded() / scale
        var t = "\(r)"
        if let dot = t.firstIndex(of: ".") {
            let decimals = t.distance(from: dot, to: t.endIndex) - 1
            if decimals < digits { t += String(repeating: "0", count: digits - decimals) }
        }
        return t
    }
}

/// The outcome of a replay: one row per input row, and the summary.
public struct ReplayResult: Sendable {
    public var rows: [ReplayRow]
    public var summary: ReplaySummary
    /// Episodes were reviewed in hindsight: the CSV gets `episode` and `hindsight_score` columns.
    public var hindsight = false
    /// The scorer's terms were kept: the CSV gets their columns (`ScoreTerms`).
    public var terms = false

    /// The columns `terms` adds, in order: each term's surprise (empty where not in play), whether the series is
    /// flat, the combined surprise before the daily rate, log10 of the points a day the daily rate counts, and
    /// where the value lies against the remembered values (0 inside, 1 at the edge, 2 beyond: `RangePosition`), and
    /// the sustained-shift surprise before its weight (`shift_weight`).
    public static let termColumns =
        "s_value,s_context,s_residual,s_head,s_change,flat,surprise,log10_points_per_day,range_position,s_shift"

    /// `timestamp,value,prediction,lower,upper,anomaly_score,flag,cause` (then `episode,hindsight_score` after a
    /// hindsight review), one line per input row; `cause` is empty where the score is 0.
    public func csv() -> String {
        var out = "timestamp,value,prediction,lower,upper,anomaly_score,flag,cause"
        if hindsight { out += ",episode,hindsight_score" }
        if terms { out += "," + Self.termColumns }
        out += "\n"
        out.reserveCapacity(rows.count * 80)
        for r in rows {
            out += r.text
            out += ","
            out += Self.number(r.value)
            out += ","
            if let p = r.prediction { out += Self.number(p) }
            out += ","
            out += Self.number(r.lower)
            out += ","
            out += Self.number(r.upper)
            out += ","
            out += Self.number(r.score)
            out += r.flag ? ",1," : ",0,"
            if let c = r.cause { out += c.rawValue }
            if hindsight {
                out += ","
                if let e = r.episode { out += "\(e)" }
                out += ","
                if let h = r.hindsight { out += Self.number(h) }
            }
            if terms {
                if let t = r.terms {
                    for x in [t.value, t.context, t.residual, t.head, t.change] as [Double?] {
                        out += ","
                        if let x { out += Self.number(x) }
                    }
                    out += t.flat ? ",1," : ",0,"
                    out += Self.number(t.combined) + "," + Self.number(t.log10PointsPerDay)
                    out += ",\(t.range.rawValue),"
                    if let x = t.shift { out += Self.number(x) }
                } else {
                    out += ",,,,,,,,,,"
                }
            }
            out += "\n"
        }
        return out
    }

    /// Shortest round-tripping text; integers without a trailing `.0`. Deterministic across runs.
    static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return "\(Int(v))" }
        return "\(v)"
    }
}

/// Replays rows through a `SeriesDetector` with synchronous, deterministic retraining.
public struct ReplayRunner: Sendable {
    public var config: DetectorConfig
    /// The series key the detector sees (it also seeds the model).
    public var series: String

    /// Review every episode in hindsight when it closes (as the daemon does on its trainer pool), synchronously.
    public var hindsight: Bool
    /// Keep the scorer's terms per row (`ReplayResult.terms`).
    public var terms: Bool

    public init(config: DetectorConfig, series: String, hindsight: Bool = false, terms: Bool = false) {
        self.config = config
        self.series = series
        self.hindsight = hindsight
        self.terms = terms
        self.config.scoring.recordTerms = terms
        // The output scores every row, the warm-up included (a daemon's learning series holds only its points).
        self.config.learning.scoreWhileLearning = true
    }

    /// Runs every row; `progress(done, total)` is called every few thousand rows and at the end.
    public func run(_ rows: [SeriesRow], progress: ((Int, Int) -> Void)? = nil) -> ReplayResult {
        let clock = ContinuousClock()
        let start = clock.now
        let detector = SeriesDetector(key: series, config: config)
        var out: [ReplayRow] = []
        out.reserveCapacity(rows.count)
        var episodes = 0
        var opened: [AnomalyCause: Int] = [:]
        var rejected = 0
        /// The open episode's number and first row, for the hindsight review.
        var openEpisode: (number: Int, row: Int, openedAt: Double)? = nil
        func review(_ job: HindsightReviewJob, rows range: ClosedRange<Int>) {
            let verdict = job.run()
            for j in range {
                out[j].episode = verdict.episode
                out[j].hindsight = verdict.score
            }
        }
        for (i, row) in rows.enumerated() {
            var closed: (job: HindsightReviewJob, row: Int)? = nil
            var r = ReplayRow(text: row.text, timestamp: row.timestamp, value: row.value, prediction: nil,
                              lower: row.value, upper: row.value, score: 0, flag: false, retrained: false)
            do {
                let o = try detector.process(timestamp: row.timestamp, value: row.value)
                r.prediction = o.prediction
                r.lower = o.lower
                r.upper = o.upper
                r.score = o.score
                r.flag = o.flag
                r.terms = o.terms
                r.cause = o.cause
                if let event = o.event, event.kind == .open {
                    episodes += 1
                    if let cause = event.cause { opened[cause, default: 0] += 1 }
                }
                if hindsight, let event = o.event {
                    if event.kind == .open { openEpisode = (event.number, i, event.openedAt) }
                    if let job = detector.makeReviewJob(for: event), let start = openEpisode {
                        closed = (job, start.row)
                        openEpisode = nil
                    }
                }
            } catch {
                rejected += 1
            }
            if detector.isTrainingDue(now: nil) {
                let outcome = detector.makeTrainingJob().run()
                detector.install(outcome, at: row.timestamp)
                r.retrained = true
            }
            out.append(r)
            if let closed { review(closed.job, rows: closed.row...i) }
            if let progress, (i + 1) % 2048 == 0 || i + 1 == rows.count { progress(i + 1, rows.count) }
        }
        if let open = openEpisode, let last = out.last {
            // Still open at the end of the file: reviewed over what there is.
            review(detector.makeReviewJob(episode: open.number, openedAt: open.openedAt, closedAt: last.timestamp),
                   rows: open.row...(out.count - 1))
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        var summary = ReplaySummary(points: rows.count, rejectedPoints: rejected, episodes: episodes,
                                    retrainsAccepted: detector.retrainsAccepted,
                                    retrainsRejected: detector.retrainsRejected, seconds: seconds)
        summary.episodesByCause = opened
        return ReplayResult(rows: out, summary: summary, hindsight: hindsight, terms: terms)
    }

    /// Writes text to a file, for the command.
    public static func write(_ text: String, to path: String) throws(ReplayError) {
        do { try FileBytes.write(path, Array(text.utf8)) } catch {
            throw .unwritable(path: path, reason: error.description)
        }
    }
}

// A small SVG renderer for replays and episodes: the series, the prediction and its expected band, points inside
// anomaly episodes, retrain moments, an optional marked episode, and a score trace under the series, with labelled
// axes. Long series are reduced to one column per pixel: the series is drawn as the band between each column's
// minimum and maximum plus a line through the column means, so a 10,000-point file stays readable (every spike
// still reaches its height) and light (one polygon and one polyline, whatever the length).

/// The episode a plot marks: its span, and the values the daemon stored at its peak.
public struct EpisodeMark: Sendable, Equatable {
    /// The episode's id (`omen anomalies` ID), written into the SVG as `id="episode-ID"`.
    public var id: Int64
    public var openedAt: Double
    /// Nil while the episode is open (the span then runs to the last point).
    public var closedAt: Double?
    public var peakAt: Double
    public var value: Double
    public var predicted: Double
    public var lower: Double
    public var upper: Double
    public var score: Double

    public init(id: Int64, openedAt: Double, closedAt: Double?, peakAt: Double, value: Double, predicted: Double,
                lower: Double, upper: Double, score: Double) {
        self.id = id
        self.openedAt = openedAt
        self.closedAt = closedAt
        self.peakAt = peakAt
        self.value = value
        self.predicted = predicted
        self.lower = lower
        self.upper = upper
        self.score = score
    }
}

extension ReplayRow {
    /// A row from elsewhere than a replay (e.g. a re-scored stored window, for `omen plot`).
    public init(timestamp: Double, value: Double, prediction: Double?, lower: Double, upper: Double, score: Double,
                flag: Bool) {
        self.init(text: "", timestamp: timestamp, value: value, prediction: prediction, lower: lower, upper: upper,
                  score: score, flag: flag, retrained: false)
    }
}

/// Renders a replay as an SVG picture.
public struct SVGPlot: Sendable {
    public var width = 1200
    /// Height of the series panel and its axes.
    public var height = 420
    public var title: String
    /// Draw the score trace in a panel under the series.
    public var scoreTrace = true
    /// Height of the score panel.
    public var scoreHeight = 120
    /// The alerting threshold drawn across the score panel (nil: none).
    public var threshold: Double?
    /// An episode to mark (shaded span, peak as the daemon stored it).
    public var episode: EpisodeMark?
    /// A line under the title (e.g. where the points came from).
    public var subtitle: String?

    public init(title: String) { self.title = title }

    private let left = 70.0, right = 20.0, top = 40.0, bottom = 50.0

    /// The SVG document for a replay's rows.
    public func render(_ rows: [ReplayRow]) -> String {
        let plotW = Double(width) - left - right
        let plotH = Double(height) - top - bottom
        let scoreTop = Double(height) + 10
        let totalHeight = scoreTrace ? height + scoreHeight + 40 : height
        var svg = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(totalHeight)" viewBox="0 0 \(width) \(totalHeight)" font-family="sans-serif" font-size="12">
        <rect x="0" y="0" width="\(width)" height="\(totalHeight)" fill="white"/>
        <text x="\(left)" y="22" font-size="15">\(Self.escape(title))</text>

        """
        if let subtitle { svg += "<text x=\"\(left)\" y=\"36\" font-size=\"11\" fill=\"#555\">\(Self.escape(subtitle))</text>\n" }
        guard let first = rows.first, let last = rows.last else {
            svg += "<text x=\"\(left)\" y=\"\(top + 20)\">no data</text>\n</svg>\n"
            return svg
        }
        // The y range follows the values (and predictions), not the band: an early, wide band would
        // otherwise flatten the series into a line.
        var lo = Double.infinity, hi = -Double.infinity
        for r in rows {
            lo = min(lo, r.value); hi = max(hi, r.value)
            if let p = r.prediction, p.isFinite { lo = min(lo, p); hi = max(hi, p) }
        }
        if let e = episode, e.value.isFinite { lo = min(lo, e.value); hi = max(hi, e.value) }
        if hi - lo < 1e-12 * max(1, abs(hi)) { lo -= 1; hi += 1 }
        let pad = (hi - lo) * 0.05
        lo -= pad; hi += pad
        let t0 = first.timestamp, t1 = max(last.timestamp, first.timestamp + 1e-9)
        func x(_ t: Double) -> Double { left + (min(max(t, t0), t1) - t0) / (t1 - t0) * plotW }
        func y(_ v: Double) -> Double { top + (1 - (min(max(v, lo), hi) - lo) / (hi - lo)) * plotH }
        func ys(_ s: Double) -> Double { scoreTop + (1 - min(max(s, 0), 1)) * Double(scoreHeight) }
        func f(_ v: Double) -> String { ReplaySummary.fixed(v, 1) }

        // Buckets: one per pixel column.
        let columns = max(1, Int(plotW))
        struct Bucket { var t = 0.0, vMin = Double.infinity, vMax = -Double.infinity, vSum = 0.0, n = 0
                        var pSum = 0.0, pN = 0, sMax = 0.0
                        var bLo = Double.infinity, bHi = -Double.infinity, flagged = false, flagV = 0.0, flagS = -1.0 }
        var buckets = [Bucket](repeating: Bucket(), count: columns)
        var used = [Bool](repeating: false, count: columns)
        var retrains: [Double] = []
        for r in rows {
            let c = min(columns - 1, max(0, Int((r.timestamp - t0) / (t1 - t0) * Double(columns - 1))))
            if !used[c] { used[c] = true; buckets[c].t = r.timestamp }
            buckets[c].vMin = min(buckets[c].vMin, r.value)
            buckets[c].vMax = max(buckets[c].vMax, r.value)
            buckets[c].vSum += r.value
            buckets[c].n += 1
            if r.score.isFinite { buckets[c].sMax = max(buckets[c].sMax, r.score) }
            if let p = r.prediction, p.isFinite {
                buckets[c].pSum += p; buckets[c].pN += 1
                if r.lower.isFinite && r.upper.isFinite {
                    buckets[c].bLo = min(buckets[c].bLo, r.lower)
                    buckets[c].bHi = max(buckets[c].bHi, r.upper)
                }
            }
            if r.flag && r.score > buckets[c].flagS {
                buckets[c].flagged = true; buckets[c].flagV = r.value; buckets[c].flagS = r.score
            }
            if r.retrained { retrains.append(r.timestamp) }
        }
        let filled = buckets.indices.filter { used[$0] }.map { buckets[$0] }

        // Axes and grid.
        svg += "<g stroke=\"#ddd\" stroke-width=\"1\">\n"
        let yTicks = Self.ticks(lo, hi, 6)
        for v in yTicks { svg += "<line x1=\"\(f(left))\" y1=\"\(f(y(v)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(y(v)))\"/>\n" }
        svg += "</g>\n<g fill=\"#333\" text-anchor=\"end\">\n"
        for v in yTicks { svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y(v) + 4))\">\(Self.escape(Self.label(v)))</text>\n" }
        svg += "</g>\n<g fill=\"#333\" text-anchor=\"middle\">\n"
        for i in 0...4 {
            let t = t0 + (t1 - t0) * Double(i) / 4
            svg += "<text x=\"\(f(x(t)))\" y=\"\(f(top + plotH + 20))\">\(Self.escape(Timestamps.format(t)))</text>\n"
        }
        svg += "</g>\n"
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#999\"/>\n"

        // The marked episode: a shaded span behind everything else.
        if let e = episode {
            let x0 = x(e.openedAt), x1 = max(x(e.closedAt ?? t1), x0 + 2)
            svg += "<rect id=\"episode-\(e.id)\" class=\"episode\" x=\"\(f(x0))\" y=\"\(f(top))\" width=\"\(f(x1 - x0))\" "
                + "height=\"\(f(plotH))\" fill=\"#d62728\" fill-opacity=\"0.12\" stroke=\"#d62728\" stroke-opacity=\"0.5\"/>\n"
        }

        // Retrain moments.
        svg += "<g stroke=\"#8a8\" stroke-width=\"1\" stroke-dasharray=\"3,3\">\n"
        for t in retrains { svg += "<line x1=\"\(f(x(t)))\" y1=\"\(f(top))\" x2=\"\(f(x(t)))\" y2=\"\(f(top + plotH))\"/>\n" }
        svg += "</g>\n"

        // Expected band as one polygon per contiguous run of buckets that have it.
        var runs: [[Bucket]] = [[]]
        for b in filled {
            if b.bLo.isFinite { runs[runs.count - 1].append(b) } else if !(runs.last?.isEmpty ?? true) { runs.append([]) }
        }
        for run in runs where run.count > 1 {
            var pts: [String] = []
            for b in run { pts.append("\(f(x(b.t))),\(f(y(b.bHi)))") }
            for b in run.reversed() { pts.append("\(f(x(b.t))),\(f(y(b.bLo)))") }
            svg += "<polygon points=\"\(pts.joined(separator: " "))\" fill=\"#f5c77e\" fill-opacity=\"0.45\" stroke=\"none\"/>\n"
        }

        // Series: the min/max envelope of each column (where columns hold several points), then the column means.
        if filled.contains(where: { $0.vMax > $0.vMin }) {
            var pts: [String] = []
            for b in filled { pts.append("\(f(x(b.t))),\(f(y(b.vMax)))") }
            for b in filled.reversed() { pts.append("\(f(x(b.t))),\(f(y(b.vMin)))") }
            svg += "<polygon class=\"minmax\" points=\"\(pts.joined(separator: " "))\" fill=\"#1f5fbf\" fill-opacity=\"0.35\" stroke=\"#1f5fbf\" stroke-width=\"0.5\" stroke-opacity=\"0.6\"/>\n"
        }
        let meanPts = filled.map { "\(f(x($0.t))),\(f(y($0.vSum / Double($0.n))))" }
        svg += "<polyline points=\"\(meanPts.joined(separator: " "))\" fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"1\"/>\n"

        var predPts: [String] = []
        for b in filled where b.pN > 0 { predPts.append("\(f(x(b.t))),\(f(y(b.pSum / Double(b.pN))))") }
        if predPts.count > 1 {
            svg += "<polyline points=\"\(predPts.joined(separator: " "))\" fill=\"none\" stroke=\"#e07b00\" stroke-width=\"1\" stroke-opacity=\"0.9\"/>\n"
        }

        svg += "<g fill=\"#d62728\" stroke=\"none\">\n"
        for b in filled where b.flagged {
            svg += "<circle cx=\"\(f(x(b.t)))\" cy=\"\(f(y(b.flagV)))\" r=\"3\"/>\n"
        }
        svg += "</g>\n"

        // The episode's peak as the daemon stored it: the value, and the band it was expected in.
        if let e = episode, e.value.isFinite {
            let px = x(e.peakAt)
            if e.lower.isFinite && e.upper.isFinite {
                svg += "<line class=\"episode-band\" x1=\"\(f(px))\" y1=\"\(f(y(e.lower)))\" x2=\"\(f(px))\" y2=\"\(f(y(e.upper)))\" stroke=\"#e07b00\" stroke-width=\"3\"/>\n"
            }
            svg += "<path class=\"episode-peak\" d=\"M \(f(px - 6)) \(f(y(e.value) - 6)) L \(f(px + 6)) \(f(y(e.value) + 6)) M \(f(px - 6)) \(f(y(e.value) + 6)) L \(f(px + 6)) \(f(y(e.value) - 6))\" stroke=\"#d62728\" stroke-width=\"2.5\"/>\n"
            let label = "episode \(e.id): peak \(Self.label(e.value)) (expected \(Self.label(e.lower))..\(Self.label(e.upper))), score \(ReplaySummary.fixed(e.score, 3))"
            let anchor = px > left + plotW * 0.6 ? "end" : "start"
            let lx = anchor == "end" ? px - 10 : px + 10
            svg += "<text x=\"\(f(lx))\" y=\"\(f(max(top + 12, y(e.value) - 10)))\" text-anchor=\"\(anchor)\" fill=\"#d62728\">\(Self.escape(label))</text>\n"
        }

        // Score trace: each column's highest score, with the threshold.
        if scoreTrace {
            let sh = Double(scoreHeight)
            svg += "<rect x=\"\(f(left))\" y=\"\(f(scoreTop))\" width=\"\(f(plotW))\" height=\"\(f(sh))\" fill=\"none\" stroke=\"#999\"/>\n"
            svg += "<g fill=\"#333\" text-anchor=\"end\">\n"
            for s in [0.0, 0.5, 1.0] { svg += "<text x=\"\(f(left - 6))\" y=\"\(f(ys(s) + 4))\">\(ReplaySummary.fixed(s, 1))</text>\n" }
            svg += "</g>\n<text x=\"\(f(left - 50))\" y=\"\(f(scoreTop + sh / 2))\" fill=\"#333\" transform=\"rotate(-90 \(f(left - 50)) \(f(scoreTop + sh / 2)))\" text-anchor=\"middle\">score</text>\n"
            if let e = episode {
                let x0 = x(e.openedAt), x1 = max(x(e.closedAt ?? t1), x0 + 2)
                svg += "<rect class=\"episode\" x=\"\(f(x0))\" y=\"\(f(scoreTop))\" width=\"\(f(x1 - x0))\" height=\"\(f(sh))\" fill=\"#d62728\" fill-opacity=\"0.12\"/>\n"
            }
            if let threshold, threshold.isFinite {
                svg += "<line class=\"threshold\" x1=\"\(f(left))\" y1=\"\(f(ys(threshold)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(ys(threshold)))\" stroke=\"#d62728\" stroke-dasharray=\"4,3\"/>\n"
            }
            let scorePts = filled.map { "\(f(x($0.t))),\(f(ys($0.sMax)))" }
            svg += "<polyline class=\"score\" points=\"\(scorePts.joined(separator: " "))\" fill=\"none\" stroke=\"#6a3d9a\" stroke-width=\"1\"/>\n"
            if let e = episode, e.score.isFinite {
                svg += "<circle class=\"episode-peak\" cx=\"\(f(x(e.peakAt)))\" cy=\"\(f(ys(e.score)))\" r=\"4\" fill=\"#d62728\"/>\n"
            }
        }

        // Legend.
        let lx = Double(width) - right - 540
        svg += """
        <g font-size="11">
        <line x1="\(f(lx))" y1="18" x2="\(f(lx + 20))" y2="18" stroke="#1f5fbf"/><text x="\(f(lx + 25))" y="22">value</text>
        <line x1="\(f(lx + 70))" y1="18" x2="\(f(lx + 90))" y2="18" stroke="#e07b00"/><text x="\(f(lx + 95))" y="22">prediction</text>
        <rect x="\(f(lx + 165))" y="12" width="20" height="10" fill="#f5c77e" fill-opacity="0.45"/><text x="\(f(lx + 190))" y="22">expected band</text>
        <circle cx="\(f(lx + 285))" cy="17" r="3" fill="#d62728"/><text x="\(f(lx + 292))" y="22">in episode</text>
        <line x1="\(f(lx + 365))" y1="12" x2="\(f(lx + 365))" y2="24" stroke="#8a8" stroke-dasharray="3,3"/><text x="\(f(lx + 372))" y="22">retrain</text>
        <line x1="\(f(lx + 425))" y1="18" x2="\(f(lx + 445))" y2="18" stroke="#6a3d9a"/><text x="\(f(lx + 450))" y="22">score</text>
        </g>
        </svg>

        """
        return svg
    }

    /// Rows whose timestamps lie in [from, to] (either end nil: open).
    public static func crop(_ rows: [ReplayRow], from: Double?, to: Double?) -> [ReplayRow] {
        rows.filter { r in (from.map { r.timestamp >= $0 } ?? true) && (to.map { r.timestamp <= $0 } ?? true) }
    }

    /// Round tick values covering [lo, hi].
    static func ticks(_ lo: Double, _ hi: Double, _ count: Int) -> [Double] {
        let span = hi - lo
        guard span > 0, span.isFinite else { return [lo] }
        let raw = span / Double(max(1, count))
        var step = 1.0
        while step > raw { step /= 10 }
        while step * 10 <= raw { step *= 10 }
        if step * 5 <= raw { step *= 5 } else if step * 2 <= raw { step *= 2 }
        var out: [Double] = []
        var v = (lo / step).rounded(.up) * step
        while v <= hi && out.count < 50 { out.append(v); v += step }
        return out
    }

    static func label(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "-" : (v > 0 ? "inf" : "-inf") }
        let a = abs(v)
        if a == 0 { return "0" }
        if a >= 1e6 || a < 1e-3 {
            var e = 0
            var m = a
            while m >= 10 { m /= 10; e += 1 }
            while m < 1 { m *= 10; e -= 1 }
            return (v < 0 ? "-" : "") + ReplaySummary.fixed(m, 2) + "e" + "\(e)"
        }
        if v == v.rounded() { return "\(Int(v))" }
        return a >= 10 ? ReplaySummary.fixed(v, 1) : ReplaySummary.fixed(v, 3)
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // XML 1.0 admits no control characters other than tab, newline and carriage return.
                if c.value < 0x20 && c != "\t" && c != "\n" && c != "\r" { out += "\u{FFFD}" } else { out.unicodeScalars.append(c) }
            }
        }
        return out
    }
}

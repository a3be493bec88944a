// A small SVG renderer for replays: the series, the prediction and its expected band, points inside anomaly
// episodes, and retrain moments, with labelled axes. Long series are reduced to one min/max column per pixel,
// so a 20,000-point file still gives a light SVG that browsers draw instantly.

/// Renders a replay as an SVG picture.
public struct SVGPlot: Sendable {
    public var width = 1200
    public var height = 420
    public var title: String

    public init(title: String) { self.title = title }

    private let left = 70.0, right = 20.0, top = 40.0, bottom = 50.0

    /// The SVG document for a replay's rows.
    public func render(_ rows: [ReplayRow]) -> String {
        let plotW = Double(width) - left - right
        let plotH = Double(height) - top - bottom
        var svg = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="sans-serif" font-size="12">
        <rect x="0" y="0" width="\(width)" height="\(height)" fill="white"/>
        <text x="\(left)" y="22" font-size="15">\(Self.escape(title))</text>

        """
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
        if hi - lo < 1e-12 * max(1, abs(hi)) { lo -= 1; hi += 1 }
        let pad = (hi - lo) * 0.05
        lo -= pad; hi += pad
        let t0 = first.timestamp, t1 = max(last.timestamp, first.timestamp + 1e-9)
        func x(_ t: Double) -> Double { left + (t - t0) / (t1 - t0) * plotW }
        func y(_ v: Double) -> Double { top + (1 - (min(max(v, lo), hi) - lo) / (hi - lo)) * plotH }
        func f(_ v: Double) -> String { ReplaySummary.fixed(v, 1) }

        // Buckets: one per pixel column.
        let columns = max(1, Int(plotW))
        struct Bucket { var t = 0.0, vMin = Double.infinity, vMax = -Double.infinity, pSum = 0.0, pN = 0
                        var bLo = Double.infinity, bHi = -Double.infinity, flagged = false, flagV = 0.0, flagS = -1.0 }
        var buckets = [Bucket](repeating: Bucket(), count: columns)
        var used = [Bool](repeating: false, count: columns)
        var retrains: [Double] = []
        for r in rows {
            let c = min(columns - 1, max(0, Int((r.timestamp - t0) / (t1 - t0) * Double(columns - 1))))
            if !used[c] { used[c] = true; buckets[c].t = r.timestamp }
            buckets[c].vMin = min(buckets[c].vMin, r.value)
            buckets[c].vMax = max(buckets[c].vMax, r.value)
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

        // Retrain moments.
        svg += "<g stroke=\"#8a8\" stroke-width=\"1\" stroke-dasharray=\"3,3\">\n"
        for t in retrains { svg += "<line x1=\"\(f(x(t)))\" y1=\"\(f(top))\" x2=\"\(f(x(t)))\" y2=\"\(f(top + plotH))\"/>\n" }
        svg += "</g>\n"

        // Expected band as one polygon per contiguous run of buckets that have it.
        var runs: [[Bucket]] = [[]]
        for (c, b) in buckets.enumerated() where used[c] {
            if b.bLo.isFinite { runs[runs.count - 1].append(b) } else if !(runs.last?.isEmpty ?? true) { runs.append([]) }
        }
        for run in runs where run.count > 1 {
            var pts: [String] = []
            for b in run { pts.append("\(f(x(b.t))),\(f(y(b.bHi)))") }
            for b in run.reversed() { pts.append("\(f(x(b.t))),\(f(y(b.bLo)))") }
            svg += "<polygon points=\"\(pts.joined(separator: " "))\" fill=\"#f5c77e\" fill-opacity=\"0.45\" stroke=\"none\"/>\n"
        }

        // Series: a vertical min-max stroke per column joined by a polyline through the column means.
        var seriesPts: [String] = []
        for (c, b) in buckets.enumerated() where used[c] {
            seriesPts.append("\(f(x(b.t))),\(f(y(b.vMin)))")
            if b.vMax != b.vMin { seriesPts.append("\(f(x(b.t))),\(f(y(b.vMax)))") }
        }
        svg += "<polyline points=\"\(seriesPts.joined(separator: " "))\" fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"1\"/>\n"

        var predPts: [String] = []
        for (c, b) in buckets.enumerated() where used[c] && b.pN > 0 {
            predPts.append("\(f(x(b.t))),\(f(y(b.pSum / Double(b.pN))))")
        }
        if predPts.count > 1 {
            svg += "<polyline points=\"\(predPts.joined(separator: " "))\" fill=\"none\" stroke=\"#e07b00\" stroke-width=\"1\" stroke-opacity=\"0.9\"/>\n"
        }

        svg += "<g fill=\"#d62728\" stroke=\"none\">\n"
        for (c, b) in buckets.enumerated() where used[c] && b.flagged {
            svg += "<circle cx=\"\(f(x(b.t)))\" cy=\"\(f(y(b.flagV)))\" r=\"3\"/>\n"
        }
        svg += "</g>\n"

        // Legend.
        let lx = Double(width) - right - 470
        svg += """
        <g font-size="11">
        <line x1="\(f(lx))" y1="18" x2="\(f(lx + 20))" y2="18" stroke="#1f5fbf"/><text x="\(f(lx + 25))" y="22">value</text>
        <line x1="\(f(lx + 70))" y1="18" x2="\(f(lx + 90))" y2="18" stroke="#e07b00"/><text x="\(f(lx + 95))" y="22">prediction</text>
        <rect x="\(f(lx + 165))" y="12" width="20" height="10" fill="#f5c77e" fill-opacity="0.45"/><text x="\(f(lx + 190))" y="22">expected band</text>
        <circle cx="\(f(lx + 285))" cy="17" r="3" fill="#d62728"/><text x="\(f(lx + 292))" y="22">in episode</text>
        <line x1="\(f(lx + 365))" y1="12" x2="\(f(lx + 365))" y2="24" stroke="#8a8" stroke-dasharray="3,3"/><text x="\(f(lx + 372))" y="22">retrain</text>
        </g>
        </svg>

        """
        return svg
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
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(c)
            }
        }
        return out
    }
}

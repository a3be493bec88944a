import Detection

extension DaemonConfig {
    /// The detector configuration of one series: the defaults with the first matching `[[override]]` applied.
    public func detectorConfig(for key: String) -> DetectorConfig {
        var result = detector
        if let o = overrides.first(where: { Glob.matches($0.pattern, key) }) {
            if let t = o.threshold { result.episodes.threshold = t }
            if let c = o.closeAfter { result.episodes.closeAfter = c }
            if let r = o.refractory { result.episodes.refractory = r }
        }
        return result
    }
}

/// Shell-style globs over series keys: `*` matches any run of characters, `?` exactly one.
public enum Glob {
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.unicodeScalars)
        let t = Array(text.unicodeScalars)
        var pi = 0, ti = 0
        var star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
                pi += 1
                ti += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}

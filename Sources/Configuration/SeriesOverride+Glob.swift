import Detection

extension SeriesOverride {
    /// Whether `seriesKey` matches the glob: `*` is any run of characters (also empty), `?` is one character,
    /// everything else matches itself.
    public func matches(_ seriesKey: String) -> Bool {
        Glob.matches(pattern: Array(pattern.unicodeScalars), key: Array(seriesKey.unicodeScalars))
    }
}

extension DaemonConfig {
    /// The episode settings for one series: `detector.episodes` with the first matching `[[override]]` applied.
    public func episodeConfig(for seriesKey: String) -> EpisodeConfig {
        var episodes = detector.episodes
        guard let override = overrides.first(where: { $0.matches(seriesKey) }) else { return episodes }
        if let threshold = override.threshold { episodes.threshold = threshold }
        if let closeAfter = override.closeAfter { episodes.closeAfter = closeAfter }
        if let refractory = override.refractory { episodes.refractory = refractory }
        return episodes
    }
}

/// Iterative glob matching with single-star backtracking: linear in practice, no recursion blow-up on `*a*a*a`.
enum Glob {
    static func matches(pattern: [Unicode.Scalar], key: [Unicode.Scalar]) -> Bool {
        var p = 0, k = 0
        var starP = -1, starK = 0
        while k < key.count {
            if p < pattern.count, pattern[p] == "?" || (pattern[p] != "*" && pattern[p] == key[k]) {
                p += 1
                k += 1
            } else if p < pattern.count, pattern[p] == "*" {
                starP = p
                starK = k
                p += 1
            } else if starP >= 0 {
                p = starP + 1
                starK += 1
                k = starK
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}

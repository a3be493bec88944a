/// Several instances' databases read as one (`omen anomalies` and `omen series` with `--database` given more than
/// once): each instance of a Kafka group stores the series it owned, and a series that moved appears in more than one.
public enum HistoryMerge {
    /// One row per series: the one seen most recently (then the one with more points), ordered by key.
    public static func series(_ lists: [[SeriesRecord]]) -> [SeriesRecord] {
        var best: [String: SeriesRecord] = [:]
        for record in lists.joined() {
            if let current = best[record.series],
               (current.lastSeen, current.points) >= (record.lastSeen, record.points) { continue }
            best[record.series] = record
        }
        return best.values.sorted { $0.series < $1.series }
    }

    /// One row per episode, an episode being (series, episode number, opening time): points replayed after a crash
    /// reopen the same episode in the new owner's database. The row that went furthest (more points, then still
    /// open) stands for it. Newest first; at most `limit` (0 = all).
    public static func anomalies(_ lists: [[AnomalyRecord]], limit: Int) -> [AnomalyRecord] {
        struct Key: Hashable {
            var series: String
            var episode: Int
            var openedAt: Double
        }
        var best: [Key: AnomalyRecord] = [:]
        for record in lists.joined() {
            let key = Key(series: record.series, episode: record.number, openedAt: record.openedAt)
            if let current = best[key],
               (current.points, current.closedAt == nil ? 1 : 0) >= (record.points, record.closedAt == nil ? 1 : 0) {
                continue
            }
            best[key] = record
        }
        let ordered = best.values.sorted {
            ($0.openedAt, $0.series, $0.number) > ($1.openedAt, $1.series, $1.number)
        }
        return limit > 0 ? Array(ordered.prefix(limit)) : ordered
    }
}

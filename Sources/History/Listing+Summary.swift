extension Listing {
    /// `omen series --summary`: one (name, value) row per figure; JSON is one object.
    public static func summary(_ s: SeriesSummary, format: ListingFormat) -> String {
        let c = s.counters
        let rows: [(String, String, String)] = [
            // (field, value as text, value as JSON)
            ("series", String(s.series), json(s.series)),
            ("learning", String(s.learning), json(s.learning)),
            ("trained", String(s.trained), json(s.trained)),
            ("checkpoints", String(s.checkpoints), json(s.checkpoints)),
            ("resident", c["series"].map(String.init) ?? "-", c["series"].map(json) ?? "null"),
            ("idle_evicted_now", c["series_idle"].map(String.init) ?? "-", c["series_idle"].map(json) ?? "null"),
            ("evicted_total", c["series_evicted"].map(String.init) ?? "-", c["series_evicted"].map(json) ?? "null"),
            ("restored_total", c["series_restored"].map(String.init) ?? "-", c["series_restored"].map(json) ?? "null"),
            ("refused_series", c["series_refused"].map(String.init) ?? "-", c["series_refused"].map(json) ?? "null"),
            ("refused_points", c["points_refused"].map(String.init) ?? "-", c["points_refused"].map(json) ?? "null"),
            ("refused_example", s.refusedExample.map { $0.unicodeScalars.contains { $0.value < 0x20 } ? String(reflecting: $0) : $0 } ?? "-", json(s.refusedExample)),
            ("counters_updated_at", s.countersUpdatedAt.map(TimeArgument.formatISO8601) ?? "-", json(s.countersUpdatedAt)),
        ]
        switch format {
        case .json:
            return "{" + rows.map { "\"\($0.0)\":\($0.2)" }.joined(separator: ",") + "}\n"
        case .csv:
            return csv(rows.map { [$0.0, $0.1 == "-" ? "" : $0.1] }, fields: ["field", "value"])
        case .table:
            let width = rows.map(\.0.count).max() ?? 0
            return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 + "\n" }.joined()
        }
    }
}

/// Listings of the operator's own records: mutes.
extension Listing {
    static let muteFields = ["id", "pattern", "starts_at", "ends_at", "reason", "created_at", "lifted_at", "state"]

    /// `omen mute --list`: every mute given, with whether it holds at `now`.
    public static func mutes(_ records: [MuteRecord], now: Double, format: ListingFormat) -> String {
        func state(_ m: MuteRecord) -> String {
            if m.liftedAt != nil { return "lifted" }
            if m.endsAt <= now { return "ended" }
            return m.startsAt > now ? "scheduled" : "active"
        }
        switch format {
        case .table:
            if records.isEmpty { return "no mutes\n" }
            let header = ["ID", "PATTERN", "STATE", "FROM", "UNTIL", "REASON"]
            let rows = records.map { m in
                [String(m.id), m.pattern, state(m), TimeArgument.formatISO8601(m.startsAt),
                 TimeArgument.formatISO8601(m.liftedAt ?? m.endsAt), m.reason ?? ""]
            }
            return table(header: header, rows: rows, rightAligned: [0])
        case .json:
            return jsonArray(records.map { m in
                [json(m.id), json(m.pattern), json(m.startsAt), json(m.endsAt), json(m.reason), json(m.createdAt),
                 json(m.liftedAt), json(state(m))]
            }, fields: muteFields)
        case .csv:
            return csv(records.map { m in
                [String(m.id), m.pattern, csv(m.startsAt), csv(m.endsAt), m.reason ?? "", csv(m.createdAt),
                 csv(m.liftedAt), state(m)]
            }, fields: muteFields)
        }
    }
}

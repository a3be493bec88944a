import GRDB

// Labels and mutes: written by the CLI (`omen label`, `omen mute`, `omen unmute`) while the daemon runs, and
// polled by the daemon. Every write is one short transaction; the daemon's writer and the CLI queue on the busy
// timeout.

extension Store {
    // MARK: - Labels

    /// Labels episode `anomalyID`, replacing any label it had (the replacement gets a new id, so a polling
    /// daemon sees it). Returns nil when no episode has that id.
    public func label(anomalyID: Int64, kind: LabelKind, note: String?, at now: Double) throws(StoreError) -> LabelRecord? {
        let id: Int64? = try write { db in
            guard try Int64.fetchOne(db, sql: "SELECT id FROM anomalies WHERE id = ?", arguments: [anomalyID]) != nil
            else { return nil }
            try db.execute(sql: "DELETE FROM labels WHERE anomaly_id = ?", arguments: [anomalyID])
            try db.execute(sql: "INSERT INTO labels (anomaly_id, kind, note, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [anomalyID, kind.rawValue, note, now])
            return db.lastInsertedRowID
        }
        guard let id else { return nil }
        return try labels(afterID: id - 1).first { $0.id == id }
    }

    /// Labels with an id above `afterID`, oldest first, each with its episode's series and peak (the daemon
    /// polls with the last id it saw; 0 reads them all).
    public func labels(afterID: Int64) throws(StoreError) -> [LabelRecord] {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT l.id, l.anomaly_id, s.key, l.kind, l.note, l.created_at, a.peak_at, a.peak_score, a.value, a.predicted
                FROM labels l JOIN anomalies a ON a.id = l.anomaly_id JOIN series s ON s.id = a.series_id
                WHERE l.id > ?
                ORDER BY l.id
                """, arguments: [afterID])
            var records: [LabelRecord] = []
            while let row = try rows.next() {
                let kindText: String = row[3]
                // The schema's CHECK admits only the known kinds; a newer omen's kind is skipped, not misread.
                guard let kind = LabelKind(rawValue: kindText) else { continue }
                records.append(LabelRecord(id: row[0], anomalyID: row[1], series: row[2], kind: kind, note: row[4],
                                           createdAt: row[5], peakAt: row[6], peakScore: row[7] ?? .nan,
                                           peakValue: row[8] ?? .nan, peakPredicted: row[9] ?? .nan))
            }
            return records
        }
    }

    /// The label of one episode, if it has one.
    public func label(ofAnomaly anomalyID: Int64) throws(StoreError) -> LabelRecord? {
        try read { db in
            try Row.fetchOne(db, sql: """
                SELECT l.id, l.anomaly_id, s.key, l.kind, l.note, l.created_at, a.peak_at, a.peak_score, a.value, a.predicted
                FROM labels l JOIN anomalies a ON a.id = l.anomaly_id JOIN series s ON s.id = a.series_id
                WHERE l.anomaly_id = ?
                """, arguments: [anomalyID]).flatMap { row in
                LabelKind(rawValue: row[3]).map { kind in
                    LabelRecord(id: row[0], anomalyID: row[1], series: row[2], kind: kind, note: row[4],
                                createdAt: row[5], peakAt: row[6], peakScore: row[7] ?? .nan,
                                peakValue: row[8] ?? .nan, peakPredicted: row[9] ?? .nan)
                }
            }
        }
    }

    // MARK: - Mutes

    /// Adds a mute of the series matching `pattern` from `startsAt` to `endsAt` (wall time, Unix seconds).
    public func addMute(pattern: String, startsAt: Double, endsAt: Double, reason: String?,
                        at now: Double) throws(StoreError) -> MuteRecord {
        let id = try write { db in
            try db.execute(sql: """
                INSERT INTO mutes (pattern, starts_at, ends_at, reason, created_at) VALUES (?, ?, ?, ?, ?)
                """, arguments: [pattern, startsAt, endsAt, reason, now])
            return db.lastInsertedRowID
        }
        return MuteRecord(id: id, pattern: pattern, startsAt: startsAt, endsAt: endsAt, reason: reason,
                          createdAt: now, liftedAt: nil)
    }

    /// Ends mute `id` at `now`. Returns the mute as it now stands, or nil when there is no mute with that id;
    /// a mute already over is returned unchanged.
    public func liftMute(id: Int64, at now: Double) throws(StoreError) -> MuteRecord? {
        try write { db in
            try db.execute(sql: """
                UPDATE mutes SET lifted_at = ? WHERE id = ? AND lifted_at IS NULL AND ends_at > ?
                """, arguments: [now, id, now])
            return try Row.fetchOne(db, sql: Self.muteColumns + " WHERE id = ?", arguments: [id]).map(Self.mute)
        }
    }

    /// Mutes not lifted and not yet over at `now` (holding now, or starting later), oldest first; with
    /// `includeEnded`, every mute ever made.
    public func mutes(at now: Double, includeEnded: Bool = false) throws(StoreError) -> [MuteRecord] {
        try read { db in
            let sql = includeEnded
                ? Self.muteColumns + " ORDER BY id"
                : Self.muteColumns + " WHERE lifted_at IS NULL AND ends_at > ? ORDER BY id"
            let arguments: StatementArguments = includeEnded ? [] : [now]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.mute)
        }
    }

    private static let muteColumns = "SELECT id, pattern, starts_at, ends_at, reason, created_at, lifted_at FROM mutes"

    private static func mute(_ row: Row) -> MuteRecord {
        MuteRecord(id: row[0], pattern: row[1], startsAt: row[2], endsAt: row[3], reason: row[4], createdAt: row[5],
                   liftedAt: row[6])
    }
}

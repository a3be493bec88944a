import Foundation
import GRDB
import Detection

extension Store {
    /// Anomaly episodes matching `query`, newest (latest opened) first.
    public func anomalies(_ query: AnomalyQuery) throws(StoreError) -> [AnomalyRecord] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let glob = query.seriesGlob {
            conditions.append("s.key GLOB ?")
            arguments += [glob]
        }
        if let since = query.since {
            // Overlap, not "opened after": an episode opened before `since` and still open (or closed after it)
            // was going on during the window, and an operator asking for the last hour wants to see it.
            conditions.append("(a.closed_at IS NULL OR a.closed_at >= ?)")
            arguments += [since]
        }
        if let until = query.until {
            conditions.append("a.opened_at <= ?")
            arguments += [until]
        }
        if let minScore = query.minScore {
            conditions.append("a.peak_score >= ?")
            arguments += [minScore]
        }
        if query.openOnly {
            conditions.append("a.closed_at IS NULL")
        }
        if let causes = query.causes {
            // Sorted, so the statement's text is the same for the same set.
            let names = causes.map(\.rawValue).sorted()
            conditions.append(names.isEmpty ? "0" : "a.cause IN (\(names.map { _ in "?" }.joined(separator: ", ")))")
            for name in names { arguments += [name] }
        }
        switch query.label {
        case nil, .any?: break
        case .none?: conditions.append("l.kind IS NULL")
        case .labelled?: conditions.append("l.kind IS NOT NULL")
        case .kind(let kind)?:
            conditions.append("l.kind = ?")
            arguments += [kind.rawValue]
        }
        var sql = """
            SELECT a.id, s.key, a.episode, a.opened_at, a.closed_at, a.peak_at, a.peak_score, a.value, a.predicted,
                   a.lower, a.upper, a.threshold, a.points, a.model_version, a.close_reason, l.kind, a.hindsight_score,
                   a.cause
            FROM anomalies a JOIN series s ON s.id = a.series_id LEFT JOIN labels l ON l.anomaly_id = a.id
            """
        if !conditions.isEmpty {
            sql += "\nWHERE " + conditions.joined(separator: " AND ")
        }
        sql += query.byHindsight ? "\nORDER BY a.hindsight_score DESC NULLS LAST, a.opened_at DESC, a.id DESC"
            : "\nORDER BY a.opened_at DESC, a.id DESC"
        if query.limit > 0 {
            sql += "\nLIMIT ?"
            arguments += [query.limit]
        }
        let finalSQL = sql
        let finalArguments = arguments
        return try read { db in
            let rows = try Row.fetchCursor(db, sql: finalSQL, arguments: finalArguments)
            var records: [AnomalyRecord] = []
            while let row = try rows.next() {
                records.append(Self.anomalyRecord(row))
            }
            return records
        }
    }

    /// Every series, by key.
    public func series() throws(StoreError) -> [SeriesRecord] {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT key, first_seen, last_seen, points, state, model_version, last_score, last_retrain,
                       refused_out_of_order, refused_future
                FROM series ORDER BY key
                """)
            var records: [SeriesRecord] = []
            while let row = try rows.next() {
                let stateText: String = row[4]
                guard let state = SeriesModelState(rawValue: stateText) else {
                    throw StoreError.incompatibleSchema(
                        path: path, reason: "series state '\(stateText)' is unknown to this omen; upgrade omen")
                }
                records.append(SeriesRecord(
                    series: row[0], firstSeen: row[1], lastSeen: row[2], points: row[3], state: state,
                    modelVersion: row[5], lastScore: row[6], lastRetrain: row[7], refusedOutOfOrder: row[8],
                    refusedFuture: row[9]))
            }
            return records
        }
    }

    /// Every saved model checkpoint, by series key, for the daemon to restore at start.
    public func loadCheckpoints() throws(StoreError) -> [ModelCheckpoint] {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT s.key, m.cell, m.input_size, m.hidden_size, m.version, m.trained_at, m.train_loss,
                       m.validation_loss, m.blob
                FROM models m JOIN series s ON s.id = m.series_id
                ORDER BY s.key
                """)
            var checkpoints: [ModelCheckpoint] = []
            while let row = try rows.next() {
                let blob: Data = row[8]
                checkpoints.append(ModelCheckpoint(
                    key: row[0], cell: row[1], inputSize: row[2], hiddenSize: row[3], version: row[4],
                    trainedAt: row[5], trainLoss: row[6], validationLoss: row[7], blob: [UInt8](blob)))
            }
            return checkpoints
        }
    }

    /// The highest episode number ever written per series key, so a restarted detector never reuses one
    /// (kept in `series.last_episode`, which survives retention deleting the episodes themselves).
    public func maxEpisodes() throws(StoreError) -> [String: Int] {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT s.key, MAX(s.last_episode, COALESCE((SELECT MAX(a.episode) FROM anomalies a
                                                             WHERE a.series_id = s.id), 0))
                FROM series s
                """)
            var episodes: [String: Int] = [:]
            while let row = try rows.next() {
                let episode: Int = row[1]
                if episode > 0 { episodes[row[0]] = episode }
            }
            return episodes
        }
    }
}

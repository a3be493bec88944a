import Foundation
import GRDB

/// What `omen series --summary` prints: series by state and the daemon's residency counters.
public struct SeriesSummary: Sendable, Equatable {
    /// Rows in `series` (every series ever seen and not deleted).
    public var series: Int
    public var learning: Int
    public var trained: Int
    /// Series with a stored checkpoint.
    public var checkpoints: Int
    /// The daemon's counters as last written (`series_refused`, `points_refused`, `series_evicted`,
    /// `series_restored`, `series_idle`, `series`), by name.
    public var counters: [String: Int]
    /// The latest refused series key, if any was refused.
    public var refusedExample: String?
    /// When the counters were last written (Unix seconds), nil when never.
    public var countersUpdatedAt: Double?
}

/// One stored checkpoint looked up by key for a restore, with the highest episode number the store has.
public struct StoredSeries: Sendable {
    public var key: String
    public var checkpoint: ModelCheckpoint?
    public var lastEpisode: Int
}

extension Store {
    /// Keys of every stored checkpoint with when it was saved (Unix seconds), most recently saved first.
    public func checkpointIndex() throws(StoreError) -> [(key: String, savedAt: Double)] {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT s.key, m.saved_at FROM models m JOIN series s ON s.id = m.series_id
                ORDER BY m.saved_at DESC, s.key
                """)
            var out: [(key: String, savedAt: Double)] = []
            while let row = try rows.next() {
                let key: String = row[0]
                let savedAt: Double = row[1]
                out.append((key: key, savedAt: savedAt))
            }
            return out
        }
    }

    /// The checkpoints (if stored) and highest episode numbers of `keys`, in one read transaction.
    public func storedSeries(_ keys: [String]) throws(StoreError) -> [StoredSeries] {
        try read { db in
            let statement = try db.cachedStatement(sql: """
                SELECT m.cell, m.input_size, m.hidden_size, m.version, m.trained_at, m.train_loss, m.validation_loss,
                       m.blob,
                       MAX(s.last_episode, COALESCE((SELECT MAX(a.episode) FROM anomalies a WHERE a.series_id = s.id), 0))
                FROM series s LEFT JOIN models m ON m.series_id = s.id
                WHERE s.key = ?
                """)
            var out: [StoredSeries] = []
            out.reserveCapacity(keys.count)
            for key in keys {
                guard let row = try Row.fetchOne(statement, arguments: [key]) else {
                    out.append(StoredSeries(key: key, checkpoint: nil, lastEpisode: 0))
                    continue
                }
                var checkpoint: ModelCheckpoint? = nil
                if let blob: Data = row[7] {
                    checkpoint = ModelCheckpoint(
                        key: key, cell: row[0], inputSize: row[1], hiddenSize: row[2], version: row[3],
                        trainedAt: row[4], trainLoss: row[5], validationLoss: row[6], blob: [UInt8](blob))
                }
                let lastEpisode: Int? = row[8]
                out.append(StoredSeries(key: key, checkpoint: checkpoint, lastEpisode: lastEpisode ?? 0))
            }
            return out
        }
    }

    /// Deletes checkpoints not saved since `savedBefore` (Unix seconds): series silent for `idle_delete_after`.
    public func deleteCheckpoints(savedBefore: Double) throws(StoreError) -> Int {
        try write { db in
            try db.execute(sql: "DELETE FROM models WHERE saved_at < ?", arguments: [savedBefore])
            return db.changesCount
        }
    }

    /// Stores the daemon's counters (replacing the previous values) and the latest refused key.
    public func saveCounters(_ counters: [String: Int], refusedExample: String?) throws(StoreError) {
        let now = Date().timeIntervalSince1970
        try write { db in
            for (name, value) in counters {
                try db.execute(sql: """
                    INSERT INTO daemon_counters (name, value, detail, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET value = excluded.value, detail = excluded.detail,
                                                    updated_at = excluded.updated_at
                    """, arguments: [name, value, name == "series_refused" ? refusedExample : nil, now])
            }
        }
    }

    /// Series by state, checkpoints stored, and the daemon's last written counters.
    public func seriesSummary() throws(StoreError) -> SeriesSummary {
        try read { db in
            let states = try Row.fetchAll(db, sql: "SELECT state, COUNT(*) FROM series GROUP BY state")
            var learning = 0, trained = 0
            for row in states {
                let state: String = row[0]
                if state == "learning" { learning = row[1] } else if state == "trained" { trained = row[1] }
            }
            let checkpoints = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM models") ?? 0
            var counters: [String: Int] = [:]
            var example: String? = nil
            var updated: Double? = nil
            for row in try Row.fetchAll(db, sql: "SELECT name, value, detail, updated_at FROM daemon_counters") {
                let name: String = row[0]
                counters[name] = row[1]
                if name == "series_refused" { example = row[2] }
                let at: Double = row[3]
                updated = max(updated ?? at, at)
            }
            return SeriesSummary(series: learning + trained, learning: learning, trained: trained,
                                 checkpoints: checkpoints, counters: counters,
                                 refusedExample: example?.isEmpty == false ? example : nil, countersUpdatedAt: updated)
        }
    }
}

extension SeriesSummary {
    /// Several daemons' summaries (one database each) as one: counts and counters summed, the latest example.
    public static func merged(_ all: [SeriesSummary]) -> SeriesSummary {
        guard var out = all.first else {
            return SeriesSummary(series: 0, learning: 0, trained: 0, checkpoints: 0, counters: [:], refusedExample: nil,
                                 countersUpdatedAt: nil)
        }
        for s in all.dropFirst() {
            out.series += s.series
            out.learning += s.learning
            out.trained += s.trained
            out.checkpoints += s.checkpoints
            out.counters.merge(s.counters, uniquingKeysWith: +)
            if let at = s.countersUpdatedAt, at >= (out.countersUpdatedAt ?? -.infinity) {
                out.countersUpdatedAt = at
                out.refusedExample = s.refusedExample ?? out.refusedExample
            }
        }
        return out
    }
}

import Foundation
import GRDB
import Testing
import Detection
@testable import History

@Suite struct EpisodeUniquenessTests {
    /// An episode is (series, number, opening time): replaying its open, updates and close leaves one row, and a
    /// different episode that reuses the number (a changelog restore older than the stored episode) gets its own row
    /// instead of overwriting the stored one.
    @Test func replayedEpisodeIsOneRowAndAReusedNumberIsAnother() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            _ = try store.apply(WriteBatch(events: [event(.open, episode: 3, at: 100), event(.close, episode: 3, at: 160, openedAt: 100, points: 4)]))
            // The same episode replayed after a takeover.
            _ = try store.apply(WriteBatch(events: [event(.open, episode: 3, at: 100), event(.update, episode: 3, at: 120, openedAt: 100, points: 2)]))
            var rows = try store.anomalies(AnomalyQuery(limit: 0))
            #expect(rows.count == 1 && rows[0].openedAt == 100 && rows[0].closedAt == 160)
            // Number 3 again, opened elsewhere in time.
            _ = try store.apply(WriteBatch(events: [event(.open, episode: 3, at: 400)]))
            rows = try store.anomalies(AnomalyQuery(limit: 0))
            #expect(rows.map(\.openedAt) == [400, 100])
            #expect(rows.map(\.number) == [3, 3])
        }
    }

    /// A database written before "v12-episode-unique" keeps its episodes and indexes through the migration.
    @Test func migrationKeepsExistingEpisodesAndIndexes() throws {
        try withDatabasePath { path in
            do {
                let queue = try DatabaseQueue(path: path)
                try Schema.migrator.migrate(queue, upTo: "v1: series, anomalies, models")
                try queue.write { db in
                    try db.execute(sql: "INSERT INTO series (id, key, first_seen, last_seen) VALUES (1, 'old', 1, 2)")
                    try db.execute(sql: """
                        INSERT INTO anomalies (series_id, episode, opened_at, peak_at, points, model_version, updated_at)
                        VALUES (1, 1, 10, 10, 1, 1, 10), (1, 2, 20, 20, 1, 1, 20)
                        """)
                }
                try queue.close()
            }
            let store = try Store(path: path)
            #expect(try store.anomalies(AnomalyQuery(limit: 0)).map(\.number) == [2, 1])
            let indexes = try store.read { db in
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'anomalies' AND sql IS NOT NULL ORDER BY name")
            }
            #expect(indexes == ["anomalies_by_opened_at", "anomalies_closed_by_closed_at", "anomalies_open_by_opened_at"])
        }
    }

    /// Merged databases list a series once (its latest row) and an episode once (the row that went furthest).
    @Test func mergeKeepsOneRowPerSeriesAndPerEpisode() {
        func series(_ key: String, _ last: Double, _ points: Int) -> SeriesRecord {
            SeriesRecord(series: key, firstSeen: 0, lastSeen: last, points: points, state: .trained, modelVersion: 1,
                         lastScore: nil, lastRetrain: nil)
        }
        let merged = HistoryMerge.series([[series("a", 10, 5), series("b", 5, 2)], [series("a", 20, 9)]])
        #expect(merged.map(\.series) == ["a", "b"] && merged[0].points == 9)
        func episode(_ id: Int64, _ n: Int, opened: Double, points: Int, closed: Double?) -> AnomalyRecord {
            AnomalyRecord(id: id, episode: Episode(
                series: "a", number: n, openedAt: opened, closedAt: closed, peakAt: opened, peakScore: 1, value: 1,
                predicted: 0, lower: 0, upper: 0, threshold: 0.9, points: points, modelVersion: 1))
        }
        let episodes = HistoryMerge.anomalies([
            [episode(1, 3, opened: 100, points: 2, closed: nil), episode(2, 4, opened: 300, points: 1, closed: 310)],
            [episode(7, 3, opened: 100, points: 5, closed: 140), episode(8, 3, opened: 200, points: 1, closed: nil)],
        ], limit: 0)
        #expect(episodes.map(\.id) == [2, 8, 7])
        #expect(HistoryMerge.anomalies([episodes], limit: 2).count == 2)
    }
}

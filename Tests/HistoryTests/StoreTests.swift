import Foundation
import Testing
import Detection
@testable import History

@Suite struct StoreTests {
    /// A fresh file is created and migrated, and re-opening it keeps what was written.
    @Test func migratesFreshFileAndReopens() throws {
        try withDatabasePath { path in
            do {
                let store = try Store(path: path)
                #expect(try store.anomalies(AnomalyQuery()).isEmpty)
                #expect(try store.series().isEmpty)
                _ = try store.apply(WriteBatch(events: [event(.open, at: 100)]))
                try store.close()
            }
            let reopened = try Store(path: path)
            #expect(try reopened.anomalies(AnomalyQuery()).count == 1)
            #expect(try reopened.series().map(\.series) == ["web01.cpu.user"])
        }
    }

    /// The CLI gets the actionable message when the file does not exist, and nothing is created.
    @Test func readOnlyOpenOfMissingFileSaysWhatToDo() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/missing.db"
            #expect(throws: StoreError.notFound(path: path)) { try Store.openReadOnly(path: path) }
            #expect(StoreError.notFound(path: path).description
                == "no database at \(path); start the daemon or pass --database")
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    /// A file that is not an Omen database is refused rather than misread.
    @Test func refusesForeignFiles() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/notes.db"
            try Data("not a database at all, just text that is long enough to be a header".utf8)
                .write(to: URL(fileURLWithPath: path))
            #expect(throws: StoreError.self) { try Store.openReadOnly(path: path) }
            #expect(throws: StoreError.self) { try Store(path: path) }
        }
    }

    /// A read-only store opens a file whose writer has closed (no -wal/-shm left) and refuses writes.
    @Test func readOnlyStoreReadsClosedFileAndRefusesWrites() throws {
        try withDatabasePath { path in
            let writer = try Store(path: path)
            _ = try writer.apply(WriteBatch(events: [event(.open, at: 100)]))
            try writer.close()
            let reader = try Store.openReadOnly(path: path)
            #expect(try reader.anomalies(AnomalyQuery()).count == 1)
            #expect(throws: StoreError.readOnly(path: path)) {
                try reader.apply(WriteBatch(events: [event(.open, episode: 2, at: 200)]))
            }
            #expect(throws: StoreError.readOnly(path: path)) { try reader.deleteClosedAnomalies(closedBefore: 1e12) }
        }
    }

    /// The immutable fallback (for readers that may not create the -shm file) reads paths with URI characters.
    @Test func immutableFallbackReadsOddPaths() throws {
        try withTemporaryDirectory { directory in
            let folder = directory + "/state dir ?#%"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let path = folder + "/omen.db"
            let writer = try Store(path: path)
            _ = try writer.apply(WriteBatch(events: [event(.open, at: 100)]))
            try writer.close()
            #expect(Store.walIsEmpty(path), "close() moves every commit into the main file")
            let uri = Store.immutableURI(path)
            #expect(uri.hasSuffix("/state%20dir%20%3F%23%25/omen.db?immutable=1"))
            let reader = try Store.openReadOnly(path: path, sqlitePath: uri)
            #expect(try reader.anomalies(AnomalyQuery()).count == 1)
        }
    }

    /// Open, update and close of one episode leave one row with the peak from the update and the close's end.
    @Test func episodeLifecycleIsOneRow() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            let opened = try store.apply(WriteBatch(events: [event(.open, at: 100, peakScore: 0.991, value: 50)]))
            let updated = try store.apply(WriteBatch(events: [
                event(.update, at: 110, openedAt: 100, peakScore: 0.999, value: 90, points: 5),
            ]))
            let closed = try store.apply(WriteBatch(events: [
                event(.close, at: 150, openedAt: 100, peakScore: 0.2, value: 10, points: 9),
            ]))
            #expect(opened == updated)
            #expect(updated == closed)
            let rows = try store.anomalies(AnomalyQuery())
            #expect(rows.count == 1)
            let row = try #require(rows.first)
            #expect(row.id == opened[0])
            #expect(row.series == "web01.cpu.user")
            #expect(row.number == 1)
            #expect(row.openedAt == 100)
            #expect(row.closedAt == 150)
            #expect(row.closeReason == EpisodeCloseReason.recovered)
            // The close sets the end and the count, not the peak.
            #expect(row.peakAt == 110)
            #expect(row.peakScore == 0.999)
            #expect(row.value == 90)
            #expect(row.predicted == 12)
            #expect(row.lower == 8)
            #expect(row.upper == 16)
            #expect(row.threshold == 0.99)
            #expect(row.points == 9)
            #expect(row.modelVersion == 3)
        }
    }

    /// Events are returned ids in order, and one batch may open, update and close several episodes.
    @Test func idsFollowEventOrderWithinABatch() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            let ids = try store.apply(WriteBatch(events: [
                event(.open, "a", at: 1), event(.open, "b", at: 2), event(.update, "a", at: 3, openedAt: 1),
                event(.close, "b", at: 4, openedAt: 2, reason: "restart"),
            ]))
            #expect(ids.count == 4)
            #expect(ids[0] == ids[2])
            #expect(ids[1] != ids[0])
            #expect(ids[1] == ids[3])
            let b = try #require(try store.anomalies(AnomalyQuery(seriesGlob: "b")).first)
            #expect(b.closeReason == "restart")
        }
    }

    /// Applying the same open twice leaves one row with the same id, and a late repeat does not reopen a close.
    @Test func reopenIsIdempotent() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            let first = try store.apply(WriteBatch(events: [event(.open, at: 100)]))
            let second = try store.apply(WriteBatch(events: [event(.open, at: 100)]))
            #expect(first == second)
            _ = try store.apply(WriteBatch(events: [event(.close, at: 120, openedAt: 100)]))
            let third = try store.apply(WriteBatch(events: [event(.open, at: 100)]))
            #expect(third == first)
            let rows = try store.anomalies(AnomalyQuery())
            #expect(rows.count == 1)
            #expect(rows.first?.closedAt == 120)
        }
    }

    /// An update or close whose open was never stored still creates the episode row.
    @Test func updateWithoutOpenCreatesRow() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            let ids = try store.apply(WriteBatch(events: [event(.close, episode: 4, at: 130, openedAt: 100)]))
            let row = try #require(try store.anomalies(AnomalyQuery()).first)
            #expect(row.id == ids[0])
            #expect(row.number == 4)
            #expect(row.openedAt == 100)
            #expect(row.closedAt == 130)
        }
    }

    /// A batch that fails part-way stores nothing, and the next batch works (no stale cached series ids).
    @Test func failedBatchRollsBackEverything() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            let bad = WriteBatch(
                events: [event(.open, "new.series", at: 1), event(.open, "new.series", episode: 0, at: 2)],
                series: [SeriesUpdate(key: "new.series", firstSeen: 1, lastSeen: 2, points: 2, state: .learning,
                                      modelVersion: 0)])
            #expect(throws: StoreError.self) { try store.apply(bad) }
            #expect(try store.series().isEmpty)
            #expect(try store.anomalies(AnomalyQuery()).isEmpty)
            let ids = try store.apply(WriteBatch(events: [event(.open, "new.series", at: 3)]))
            #expect(ids.count == 1)
            #expect(try store.series().map(\.series) == ["new.series"])
        }
    }

    /// A write error names the file and what to check.
    @Test func writeErrorSaysWhatToDo() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            do throws(StoreError) {
                _ = try store.apply(WriteBatch(events: [event(.open, episode: 0, at: 1)]))
                Issue.record("a CHECK violation must fail the batch")
            } catch {
                #expect(error.description.contains(path))
                #expect(error.description.contains("rolled back"))
            }
        }
    }

    /// NaN measurements are stored as NULL and read back as NaN instead of failing the batch.
    @Test func nanValuesDoNotFailTheBatch() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            _ = try store.apply(WriteBatch(events: [event(.open, at: 1, value: .nan)]))
            let row = try #require(try store.anomalies(AnomalyQuery()).first)
            #expect(row.value.isNaN)
            #expect(row.predicted == 12)
        }
    }

    /// Glob, time window, minimum score, open-only and limit filter as documented, newest first.
    @Test func queriesFilterAndOrder() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            _ = try store.apply(WriteBatch(events: [
                event(.open, "web01.cpu.user", episode: 1, at: 100, peakScore: 0.991),
                event(.close, "web01.cpu.user", episode: 1, at: 150, openedAt: 100, peakScore: 0.991),
                event(.open, "web02.cpu.user", episode: 1, at: 200, peakScore: 0.999),
                event(.open, "db01.disk.io", episode: 1, at: 300, peakScore: 0.995),
                event(.close, "db01.disk.io", episode: 1, at: 320, openedAt: 300),
                event(.open, "web01.cpu.user", episode: 2, at: 400, peakScore: 0.993),
            ]))
            func keys(_ query: AnomalyQuery) throws -> [String] {
                try store.anomalies(query).map { "\($0.series)#\($0.number)" }
            }
            #expect(try keys(AnomalyQuery())
                == ["web01.cpu.user#2", "db01.disk.io#1", "web02.cpu.user#1", "web01.cpu.user#1"])
            #expect(try keys(AnomalyQuery(seriesGlob: "web*.cpu*"))
                == ["web01.cpu.user#2", "web02.cpu.user#1", "web01.cpu.user#1"])
            #expect(try keys(AnomalyQuery(seriesGlob: "WEB*")).isEmpty)
            // Since: episodes going on at or after the time, so the still-open web02 (opened at 200) counts.
            #expect(try keys(AnomalyQuery(since: 250)) == ["web01.cpu.user#2", "db01.disk.io#1", "web02.cpu.user#1"])
            #expect(try keys(AnomalyQuery(until: 250)) == ["web02.cpu.user#1", "web01.cpu.user#1"])
            #expect(try keys(AnomalyQuery(since: 160, until: 350)) == ["db01.disk.io#1", "web02.cpu.user#1"])
            #expect(try keys(AnomalyQuery(minScore: 0.995)) == ["db01.disk.io#1", "web02.cpu.user#1"])
            #expect(try keys(AnomalyQuery(openOnly: true)) == ["web01.cpu.user#2", "web02.cpu.user#1"])
            #expect(try keys(AnomalyQuery(limit: 2)) == ["web01.cpu.user#2", "db01.disk.io#1"])
            #expect(try keys(AnomalyQuery(limit: 0)).count == 4)
            #expect(try keys(AnomalyQuery(seriesGlob: "web01*", openOnly: true, limit: 5)) == ["web01.cpu.user#2"])
        }
    }

    /// Series rows are upserted by key: first seen keeps the earliest, a nil retrain keeps the stored one.
    @Test func seriesUpsertByKey() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            _ = try store.apply(WriteBatch(series: [
                SeriesUpdate(key: "a", firstSeen: 10, lastSeen: 20, points: 5, state: .learning, modelVersion: 0),
                SeriesUpdate(key: "b", firstSeen: 11, lastSeen: 21, points: 6, state: .learning, modelVersion: 0),
            ]))
            _ = try store.apply(WriteBatch(series: [
                SeriesUpdate(key: "a", firstSeen: 15, lastSeen: 30, points: 500, state: .trained, modelVersion: 1,
                             lastScore: 0.25, lastRetrain: 29),
            ]))
            _ = try store.apply(WriteBatch(series: [
                SeriesUpdate(key: "a", firstSeen: 15, lastSeen: 40, points: 510, state: .trained, modelVersion: 1,
                             lastScore: 0.5, lastRetrain: nil),
            ]))
            // A second writer on the same file takes the insert-or-update path (its cache is empty).
            let other = try Store(path: path)
            _ = try other.apply(WriteBatch(series: [
                SeriesUpdate(key: "b", firstSeen: 5, lastSeen: 50, points: 7, state: .learning, modelVersion: 0),
            ]))
            let rows = try store.series()
            #expect(rows == [
                SeriesRecord(series: "a", firstSeen: 10, lastSeen: 40, points: 510, state: .trained, modelVersion: 1,
                             lastScore: 0.5, lastRetrain: 29),
                SeriesRecord(series: "b", firstSeen: 5, lastSeen: 50, points: 7, state: .learning, modelVersion: 0,
                             lastScore: nil, lastRetrain: nil),
            ])
        }
    }

    /// Checkpoints round-trip with their blob bytes equal, and saving again replaces the previous one.
    @Test func checkpointsRoundTrip() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            let blob = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let first = ModelCheckpoint(key: "a", cell: "lstm", inputSize: 5, hiddenSize: 32, version: 1,
                                        trainedAt: 100, trainLoss: 0.5, validationLoss: 0.6, blob: blob)
            let other = ModelCheckpoint(key: "b", cell: "gru", inputSize: 3, hiddenSize: 16, version: 2, blob: [0, 255])
            _ = try store.apply(WriteBatch(checkpoints: [first, other]))
            #expect(try store.loadCheckpoints() == [first, other])
            var second = first
            second.version = 2
            second.blob = [1, 2, 3]
            _ = try store.apply(WriteBatch(checkpoints: [second]))
            try store.close()
            #expect(try Store.openReadOnly(path: path).loadCheckpoints() == [second, other])
        }
    }

    /// maxEpisodes gives each series' highest episode, and retention does not make it forget one.
    @Test func maxEpisodesSurvivesRetention() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            _ = try store.apply(WriteBatch(events: [
                event(.open, "a", episode: 1, at: 1), event(.close, "a", episode: 1, at: 2, openedAt: 1),
                event(.open, "a", episode: 2, at: 3), event(.close, "a", episode: 2, at: 4, openedAt: 3),
                event(.open, "b", episode: 7, at: 5),
            ], series: [SeriesUpdate(key: "quiet", firstSeen: 1, lastSeen: 2, points: 2, state: .learning,
                                     modelVersion: 0)]))
            #expect(try store.maxEpisodes() == ["a": 2, "b": 7])
            #expect(try store.deleteClosedAnomalies(closedBefore: 10) == 2)
            #expect(try store.maxEpisodes() == ["a": 2, "b": 7])
            // A late event of an older episode, from a writer with a cold cache, does not lower the maximum.
            let restarted = try Store(path: path)
            _ = try restarted.apply(WriteBatch(events: [event(.close, "b", episode: 3, at: 6, openedAt: 5)]))
            _ = try restarted.apply(WriteBatch(events: [event(.open, "a", episode: 3, at: 7)]))
            #expect(try restarted.maxEpisodes() == ["a": 3, "b": 7])
        }
    }

    /// Retention deletes closed episodes older than the cutoff and keeps newer and open ones.
    @Test func retentionDeletesOnlyOldClosedEpisodes() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            _ = try store.apply(WriteBatch(events: [
                event(.open, "old", at: 1), event(.close, "old", at: 2, openedAt: 1),
                event(.open, "recent", at: 1), event(.close, "recent", at: 200, openedAt: 1),
                event(.open, "open", at: 1),
            ]))
            #expect(try store.deleteClosedAnomalies(closedBefore: 100) == 1)
            #expect(try Set(store.anomalies(AnomalyQuery()).map(\.series)) == ["recent", "open"])
            #expect(try store.deleteClosedAnomalies(closedBefore: 100) == 0)
        }
    }

    /// A second store on the same file reads the last committed state while a write transaction is open.
    @Test func readerReadsDuringOpenWriteTransaction() throws {
        try withDatabasePath { path in
            let writer = try Store(path: path)
            _ = try writer.apply(WriteBatch(events: [event(.open, episode: 1, at: 1)]))
            let reader = try Store.openReadOnly(path: path)
            let seenDuring = Locked<Result<Int, StoreError>?>(nil)
            _ = try writer.apply(WriteBatch(events: [event(.open, episode: 2, at: 2)]), beforeCommit: {
                do throws(StoreError) {
                    seenDuring.value = .success(try reader.anomalies(AnomalyQuery()).count)
                } catch {
                    seenDuring.value = .failure(error)
                }
            })
            #expect(try seenDuring.value?.get() == 1)
            #expect(try reader.anomalies(AnomalyQuery()).count == 2)
        }
    }

}

import Foundation
import GRDB
import Detection

/// The SQLite file: one writer (the daemon's writer thread) and any number of readers, in this or other processes.
///
/// WAL mode, so the CLI reads while the daemon writes; a 5 s busy timeout, so two writers queue instead of failing.
public final class Store: Sendable {
    /// The database file.
    public let path: String
    /// True for stores from `openReadOnly(path:)`, which refuse `apply` and retention.
    public let isReadOnly: Bool
    private let pool: DatabasePool
    private let cache = WriterCache()

    /// Opens or creates the file and brings its schema up to date.
    public init(path: String) throws(StoreError) {
        self.path = path
        self.isReadOnly = false
        do {
            pool = try DatabasePool(path: path, configuration: Store.configuration(readOnly: false))
        } catch {
            throw .open(path: path, reason: Store.reason(error))
        }
        do {
            try Schema.migrator.migrate(pool)
        } catch {
            throw .migration(path: path, reason: Store.reason(error))
        }
        try checkSchema()
    }

    private init(readOnlyPool: DatabasePool, path: String) {
        self.path = path
        self.isReadOnly = true
        self.pool = readOnlyPool
    }

    /// Opens an existing file for queries only (the CLI); never creates or migrates it.
    public static func openReadOnly(path: String) throws(StoreError) -> Store {
        guard FileManager.default.fileExists(atPath: path) else { throw .notFound(path: path) }
        do {
            return try openReadOnly(path: path, sqlitePath: path)
        } catch {
            // A WAL database whose writer has gone may have no -shm file, and a reader that may not create
            // one (the daemon's state folder, another user) cannot open it. With an empty or no -wal file every
            // committed transaction is in the main file, so it can be read as immutable; a daemon starting
            // meanwhile could only make this one query fail, never damage the file.
            if case .incompatibleSchema = error { throw error }
            guard walIsEmpty(path),
                  let store = try? openReadOnly(path: path, sqlitePath: immutableURI(path)) else { throw error }
            return store
        }
    }

    /// True when no -wal file holds transactions that are not in the main file yet.
    static func walIsEmpty(_ path: String) -> Bool {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path + "-wal") else { return true }
        return (attributes[.size] as? NSNumber)?.intValue == 0
    }

    static func openReadOnly(path: String, sqlitePath: String) throws(StoreError) -> Store {
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: sqlitePath, configuration: configuration(readOnly: true))
        } catch {
            throw .open(path: path, reason: reason(error))
        }
        let store = Store(readOnlyPool: pool, path: path)
        try store.checkSchema()
        return store
    }

    /// `file:PATH?immutable=1`; SQLite builds with URI filenames enabled (Debian's is) read it as a URI.
    static func immutableURI(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var encoded = ""
        for byte in absolute.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.unicodeScalars.append(UnicodeScalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                encoded += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return "file:" + encoded + "?immutable=1"
    }

    private static func configuration(readOnly: Bool) -> Configuration {
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.label = "omen.history"
        // The daemon writes in batches that take milliseconds; 5 s covers a checkpoint of many models.
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // synchronous=NORMAL is safe under WAL: a commit survives a process crash and the file never
            // corrupts; only a power cut may lose the last few batches. FULL would fsync on every batch.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // A checkpoint batch of many models can grow the WAL to hundreds of MB; shrink it back afterwards.
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
        }
        return configuration
    }

    /// Refuses files from another program or another Omen version instead of misreading them.
    private func checkSchema() throws(StoreError) {
        let migrator = Schema.migrator
        let (complete, superseded): (Bool, Bool)
        do {
            (complete, superseded) = try pool.read { db in
                (try migrator.hasCompletedMigrations(db), try migrator.hasBeenSuperseded(db))
            }
        } catch {
            throw .read(path: path, reason: Store.reason(error))
        }
        if superseded {
            throw .incompatibleSchema(path: path, reason: "it was written by a newer Omen; upgrade omen to read it")
        }
        if !complete {
            throw .incompatibleSchema(
                path: path,
                reason: "it is not an Omen database or its schema is older than this omen; start the daemon once "
                    + "on it to update the schema, or pass --database with the daemon's file")
        }
    }

    /// Closes the connections, with every commit moved into the main file; the store must not be used afterwards.
    public func close() throws(StoreError) {
        do {
            // GRDB closes the writer before the read-only readers, so the last connection cannot checkpoint:
            // do it here, leaving an empty -wal that readers of other users can open without creating files.
            // Best effort: a CLI holding a read open makes it fail after the busy timeout, and the next start
            // checkpoints anyway.
            if !isReadOnly {
                _ = try? pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
            }
            try pool.close()
        } catch {
            throw .write(path: path, reason: Store.reason(error))
        }
    }

    // MARK: - Writes

    /// Stores a batch in one transaction; returns the anomaly row id of each event, in order.
    ///
    /// Every event kind is an upsert on (series, episode), so a batch retried after a failure, or a `.update`
    /// whose `.open` was lost, still leaves exactly one row per episode.
    public func apply(_ batch: WriteBatch) throws(StoreError) -> [Int64] {
        try apply(batch, beforeCommit: nil)
    }

    /// `beforeCommit` runs inside the open write transaction (tests use it to read concurrently).
    func apply(_ batch: WriteBatch, beforeCommit: (@Sendable () -> Void)?) throws(StoreError) -> [Int64] {
        guard !isReadOnly else { throw .readOnly(path: path) }
        if batch.isEmpty { return [] }
        let cache = self.cache
        let savedAt = Date().timeIntervalSince1970
        do {
            let ids = try pool.write { db -> [Int64] in
                var writer = BatchWriter(db: db, cache: cache)
                for update in batch.series {
                    try writer.upsert(update)
                    try writer.addRefusals(update)
                }
                for checkpoint in batch.checkpoints { try writer.save(checkpoint, savedAt: savedAt) }
                var ids: [Int64] = []
                ids.reserveCapacity(batch.events.count)
                for event in batch.events { ids.append(try writer.record(event)) }
                for verdict in batch.hindsight { try Store.record(verdict, in: db) }
                try writer.recordLastEpisodes()
                beforeCommit?()
                return ids
            }
            return ids
        } catch {
            // The rollback may have undone series rows whose ids were just cached.
            cache.removeAll()
            if let storeError = error as? StoreError { throw storeError }
            throw .write(path: path, reason: Store.reason(error))
        }
    }

    /// Deletes episodes closed before `closedBefore` (retention); open episodes are always kept.
    public func deleteClosedAnomalies(closedBefore: Double) throws(StoreError) -> Int {
        guard !isReadOnly else { throw .readOnly(path: path) }
        do {
            return try pool.write { db in
                try db.execute(sql: "DELETE FROM anomalies WHERE closed_at IS NOT NULL AND closed_at < ?",
                               arguments: [closedBefore])
                return db.changesCount
            }
        } catch {
            throw .write(path: path, reason: Store.reason(error))
        }
    }

    // MARK: - Reads

    /// Runs a read on a pooled reader connection, mapping failures to `StoreError.read`.
    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.read(body)
        } catch {
            if let storeError = error as? StoreError { throw storeError }
            throw .read(path: path, reason: Store.reason(error))
        }
    }

    /// Runs a write transaction, mapping failures to `StoreError.write` (read-only stores refuse).
    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        guard !isReadOnly else { throw .readOnly(path: path) }
        do {
            return try pool.write(body)
        } catch {
            if let storeError = error as? StoreError { throw storeError }
            throw .write(path: path, reason: Store.reason(error))
        }
    }

    static func reason(_ error: any Error) -> String {
        if let databaseError = error as? DatabaseError {
            return databaseError.message ?? "SQLite error \(databaseError.resultCode.rawValue)"
        }
        return String(describing: error)
    }
}

/// Row ids the writer has seen, so the hot path skips lookups: series key → series id, and open episodes →
/// anomaly id (updates and closes then hit the row by its primary key). Only the single writer touches it.
final class WriterCache: @unchecked Sendable {
    /// Open episodes whose close never comes (a series that vanished) would otherwise accumulate for ever.
    static let maximumOpenEpisodes = 100_000
    private let lock = NSLock()
    private var seriesIDs: [String: Int64] = [:]
    private var anomalyIDs: [EpisodeKey: Int64] = [:]
    /// Per series id, the `series.last_episode` value as this writer last stored it.
    private var lastEpisodes: [Int64: Int] = [:]

    func seriesID(for key: String) -> Int64? {
        lock.lock()
        defer { lock.unlock() }
        return seriesIDs[key]
    }

    func setSeriesID(_ id: Int64, for key: String) {
        lock.lock()
        defer { lock.unlock() }
        seriesIDs[key] = id
    }

    func anomalyID(for key: EpisodeKey) -> Int64? {
        lock.lock()
        defer { lock.unlock() }
        return anomalyIDs[key]
    }

    func setAnomalyID(_ id: Int64?, for key: EpisodeKey) {
        lock.lock()
        defer { lock.unlock() }
        if id != nil, anomalyIDs.count >= WriterCache.maximumOpenEpisodes { anomalyIDs.removeAll() }
        anomalyIDs[key] = id
    }

    func lastEpisode(for seriesID: Int64) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        return lastEpisodes[seriesID]
    }

    func setLastEpisode(_ episode: Int, for seriesID: Int64) {
        lock.lock()
        defer { lock.unlock() }
        lastEpisodes[seriesID] = episode
    }

    func removeAll() {
        lock.lock()
        defer { lock.unlock() }
        seriesIDs.removeAll()
        anomalyIDs.removeAll()
        lastEpisodes.removeAll()
    }
}

/// One episode of one series, as the anomalies table's unique key.
struct EpisodeKey: Hashable {
    var seriesID: Int64
    var episode: Int
    var openedAt: Double
}

/// The statements of one write transaction; all cached, so a batch prepares nothing after the first.
struct BatchWriter {
    let db: Database
    let cache: WriterCache
    /// Series whose highest episode number grew in this batch, with the new number.
    var lastEpisodes: [Int64: Int] = [:]

    init(db: Database, cache: WriterCache) {
        self.db = db
        self.cache = cache
    }

    /// The row id of `key`, creating a placeholder row (learning, no points) when the series is new.
    mutating func seriesID(_ key: String, seenAt: Double) throws -> Int64 {
        if let id = cache.seriesID(for: key) { return id }
        let select = try db.cachedStatement(sql: "SELECT id FROM series WHERE key = ?")
        if let id = try Int64.fetchOne(select, arguments: [key]) {
            cache.setSeriesID(id, for: key)
            return id
        }
        let insert = try db.cachedStatement(sql: """
            INSERT INTO series (key, first_seen, last_seen, points, state, model_version)
            VALUES (?, ?, ?, 0, 'learning', 0)
            """)
        try insert.execute(arguments: [key, seenAt, seenAt])
        let id = db.lastInsertedRowID
        cache.setSeriesID(id, for: key)
        return id
    }

    mutating func upsert(_ update: SeriesUpdate) throws {
        if let id = cache.seriesID(for: update.key) {
            let statement = try db.cachedStatement(sql: """
                UPDATE series SET
                    first_seen = MIN(first_seen, ?), last_seen = MAX(last_seen, ?), points = ?, state = ?,
                    model_version = ?, last_score = ?, last_retrain = COALESCE(?, last_retrain)
                WHERE id = ?
                """)
            try statement.execute(arguments: [
                update.firstSeen, update.lastSeen, update.points, update.state.rawValue, update.modelVersion,
                update.lastScore, update.lastRetrain, id,
            ])
            if db.changesCount == 1 { return }
            // The row was deleted behind the cache's back: forget it and insert.
            cache.removeAll()
        }
        let statement = try db.cachedStatement(sql: """
            INSERT INTO series (key, first_seen, last_seen, points, state, model_version, last_score, last_retrain)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET
                first_seen = MIN(first_seen, excluded.first_seen), last_seen = MAX(last_seen, excluded.last_seen),
                points = excluded.points, state = excluded.state, model_version = excluded.model_version,
                last_score = excluded.last_score, last_retrain = COALESCE(excluded.last_retrain, last_retrain)
            RETURNING id
            """)
        let arguments: StatementArguments = [
            update.key, update.firstSeen, update.lastSeen, update.points, update.state.rawValue, update.modelVersion,
            update.lastScore, update.lastRetrain,
        ]
        guard let id = try Int64.fetchOne(statement, arguments: arguments) else {
            throw DatabaseError(resultCode: .SQLITE_ERROR, message: "series upsert returned no row")
        }
        cache.setSeriesID(id, for: update.key)
    }

    mutating func save(_ checkpoint: ModelCheckpoint, savedAt: Double) throws {
        let seriesID = try seriesID(checkpoint.key, seenAt: checkpoint.trainedAt ?? savedAt)
        let statement = try db.cachedStatement(sql: """
            INSERT INTO models (series_id, cell, input_size, hidden_size, version, trained_at, train_loss,
                                validation_loss, blob, saved_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (series_id) DO UPDATE SET
                cell = excluded.cell, input_size = excluded.input_size, hidden_size = excluded.hidden_size,
                version = excluded.version, trained_at = excluded.trained_at, train_loss = excluded.train_loss,
                validation_loss = excluded.validation_loss, blob = excluded.blob, saved_at = excluded.saved_at
            """)
        try statement.execute(arguments: [
            seriesID, checkpoint.cell, checkpoint.inputSize, checkpoint.hiddenSize, checkpoint.version,
            checkpoint.trainedAt, checkpoint.trainLoss, checkpoint.validationLoss, Data(checkpoint.blob), savedAt,
        ])
    }

    /// Upserts the episode row; `updated_at` is the timestamp of the point behind the event (data time).
    mutating func record(_ event: EpisodeEvent) throws -> Int64 {
        let seriesID = try seriesID(event.series, seenAt: event.openedAt)
        // Only a new episode raises the stored maximum, so most events cost no series write.
        let known = lastEpisodes[seriesID] ?? cache.lastEpisode(for: seriesID)
        if known.map({ event.number > $0 }) ?? true {
            lastEpisodes[seriesID] = event.number
        }
        let key = EpisodeKey(seriesID: seriesID, episode: event.number, openedAt: event.openedAt)
        let closedAt: Double? = event.kind == .close ? (event.closedAt ?? event.timestamp) : nil
        let reason: String? = event.kind == .close ? (event.closeReason ?? EpisodeCloseReason.recovered) : nil
        // Fast path: an episode this writer opened is updated by primary key, without an upsert's RETURNING.
        if event.kind != .open, let id = cache.anomalyID(for: key) {
            if event.kind == .update {
                let statement = try db.cachedStatement(sql: """
                    UPDATE anomalies SET
                        peak_at = ?, peak_score = ?, value = ?, predicted = ?, lower = ?, upper = ?, threshold = ?,
                        points = ?, model_version = ?, cause = ?, updated_at = ?
                    WHERE id = ?
                    """)
                try statement.execute(arguments: [
                    event.peakAt, event.peakScore.storable, event.value.storable, event.predicted.storable,
                    event.lower.storable, event.upper.storable, event.threshold.storable, event.points,
                    event.modelVersion, event.cause?.rawValue, event.timestamp, id,
                ])
            } else {
                let statement = try db.cachedStatement(sql: """
                    UPDATE anomalies SET closed_at = ?, close_reason = ?, points = ?, updated_at = ? WHERE id = ?
                    """)
                try statement.execute(arguments: [closedAt, reason, event.points, event.timestamp, id])
            }
            if db.changesCount == 1 {
                if event.kind == .close { cache.setAnomalyID(nil, for: key) }
                return id
            }
            // The row went away behind the cache's back (retention, a manual delete): upsert it again.
            cache.setAnomalyID(nil, for: key)
        }
        let statement: Statement
        switch event.kind {
        case .open:
            // A repeated open (a retried batch) rewrites the same values; it never reopens a closed episode.
            statement = try db.cachedStatement(sql: """
                INSERT INTO anomalies (series_id, episode, opened_at, closed_at, close_reason, peak_at, peak_score,
                                       value, predicted, lower, upper, threshold, points, model_version, updated_at,
                                       cause)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (series_id, episode, opened_at) DO UPDATE SET
                    opened_at = excluded.opened_at, peak_at = excluded.peak_at, peak_score = excluded.peak_score,
                    value = excluded.value, predicted = excluded.predicted, lower = excluded.lower,
                    upper = excluded.upper, threshold = excluded.threshold, points = excluded.points,
                    model_version = excluded.model_version, updated_at = excluded.updated_at, cause = excluded.cause
                RETURNING id, closed_at IS NULL
                """)
        case .update:
            statement = try db.cachedStatement(sql: """
                INSERT INTO anomalies (series_id, episode, opened_at, closed_at, close_reason, peak_at, peak_score,
                                       value, predicted, lower, upper, threshold, points, model_version, updated_at,
                                       cause)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (series_id, episode, opened_at) DO UPDATE SET
                    peak_at = excluded.peak_at, peak_score = excluded.peak_score, value = excluded.value,
                    predicted = excluded.predicted, lower = excluded.lower, upper = excluded.upper,
                    threshold = excluded.threshold, points = excluded.points,
                    model_version = excluded.model_version, updated_at = excluded.updated_at, cause = excluded.cause
                RETURNING id, closed_at IS NULL
                """)
        case .close:
            statement = try db.cachedStatement(sql: """
                INSERT INTO anomalies (series_id, episode, opened_at, closed_at, close_reason, peak_at, peak_score,
                                       value, predicted, lower, upper, threshold, points, model_version, updated_at,
                                       cause)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (series_id, episode, opened_at) DO UPDATE SET
                    closed_at = excluded.closed_at, close_reason = excluded.close_reason, points = excluded.points,
                    updated_at = excluded.updated_at
                RETURNING id, closed_at IS NULL
                """)
        }
        let arguments: StatementArguments = [
            seriesID, event.number, event.openedAt, closedAt, reason, event.peakAt, event.peakScore.storable,
            event.value.storable, event.predicted.storable, event.lower.storable, event.upper.storable,
            event.threshold.storable, event.points, event.modelVersion, event.timestamp, event.cause?.rawValue,
        ]
        guard let row = try Row.fetchOne(statement, arguments: arguments) else {
            throw DatabaseError(resultCode: .SQLITE_ERROR, message: "episode upsert returned no row")
        }
        let id: Int64 = row[0]
        let isOpen: Bool = row[1]
        // Only still-open episodes are cached: an update of a closed one must keep taking the upsert path.
        cache.setAnomalyID(isOpen ? id : nil, for: key)
        return id
    }

    /// Remembers the highest episode per series even after retention deletes its rows.
    func recordLastEpisodes() throws {
        guard !lastEpisodes.isEmpty else { return }
        let statement = try db.cachedStatement(
            sql: "UPDATE series SET last_episode = MAX(last_episode, ?) WHERE id = ?")
        for (seriesID, episode) in lastEpisodes {
            try statement.execute(arguments: [episode, seriesID])
            // Cached before commit; a rollback clears the whole cache.
            cache.setLastEpisode(max(episode, cache.lastEpisode(for: seriesID) ?? 0), for: seriesID)
        }
    }
}

/// Close reasons the store writes itself.
public enum EpisodeCloseReason {
    /// Stored when a `.close` event carries no reason: the series returned to normal (`close_after` points).
    public static let recovered = "recovered"
}

extension Double {
    /// SQLite turns NaN into NULL anyway; saying so keeps the binding explicit.
    var storable: Double? { isNaN ? nil : self }
}

import Foundation
import GRDB

/// The versioned schema. A migration is never edited once shipped: change the schema by appending one.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        // Integer series ids and time-led indexes: an index led by the TEXT key would make every commit
        // random-write-bound (SWIFT-NOTES). Measurements (value, band, scores) are nullable because SQLite stores
        // NaN as NULL, and one odd event must not make a NOT NULL constraint roll back a whole batch.
        migrator.registerMigration("v1: series, anomalies, models") { db in
            try db.execute(sql: """
                CREATE TABLE series (
                    id            INTEGER PRIMARY KEY,
                    key           TEXT    NOT NULL UNIQUE,
                    first_seen    REAL    NOT NULL,
                    last_seen     REAL    NOT NULL,
                    points        INTEGER NOT NULL DEFAULT 0 CHECK (points >= 0),
                    state         TEXT    NOT NULL DEFAULT 'learning' CHECK (state IN ('learning', 'trained')),
                    model_version INTEGER NOT NULL DEFAULT 0,
                    last_score    REAL,
                    last_retrain  REAL,
                    last_episode  INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE anomalies (
                    id            INTEGER PRIMARY KEY,
                    series_id     INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
                    episode       INTEGER NOT NULL CHECK (episode >= 1),
                    opened_at     REAL    NOT NULL,
                    closed_at     REAL,
                    close_reason  TEXT,
                    peak_at       REAL    NOT NULL,
                    peak_score    REAL,
                    value         REAL,
                    predicted     REAL,
                    lower         REAL,
                    upper         REAL,
                    threshold     REAL,
                    points        INTEGER NOT NULL,
                    model_version INTEGER NOT NULL,
                    updated_at    REAL    NOT NULL,
                    UNIQUE (series_id, episode)
                );
                CREATE INDEX anomalies_by_opened_at ON anomalies(opened_at);
                CREATE INDEX anomalies_open_by_opened_at ON anomalies(opened_at) WHERE closed_at IS NULL;
                CREATE INDEX anomalies_closed_by_closed_at ON anomalies(closed_at) WHERE closed_at IS NOT NULL;
                CREATE TABLE models (
                    series_id       INTEGER PRIMARY KEY REFERENCES series(id) ON DELETE CASCADE,
                    cell            TEXT    NOT NULL,
                    input_size      INTEGER NOT NULL,
                    hidden_size     INTEGER NOT NULL,
                    version         INTEGER NOT NULL,
                    trained_at      REAL,
                    train_loss      REAL,
                    validation_loss REAL,
                    blob            BLOB    NOT NULL,
                    saved_at        REAL    NOT NULL
                );
                """)
        }
        // An episode is (series, number, opening time). With Kafka, a series' detector can be restored from a
        // changelog checkpoint older than an episode this database already stored; replaying the points reopens that
        // episode with the same three values (one row), while a different episode that reuses the number gets its
        // own row instead of overwriting the stored one. SQLite cannot change a table constraint in place, so the
        // table is rebuilt from its own stored definition (keeping any column a later migration added).
        migrator.registerMigration("v12-episode-unique") { db in
            let old = "UNIQUE (series_id, episode)"
            guard let table = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'anomalies'"),
                  table.contains(old) else {
                throw DatabaseError(resultCode: .SQLITE_ERROR, message: "anomalies has no \(old) constraint to widen")
            }
            let indexes = try String.fetchAll(db, sql: """
                SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'anomalies' AND sql IS NOT NULL
                """)
            let rebuilt = table
                .replacingOccurrences(of: old, with: "UNIQUE (series_id, episode, opened_at)")
                .replacingOccurrences(of: "CREATE TABLE anomalies", with: "CREATE TABLE anomalies_v12")
            try db.execute(sql: rebuilt)
            try db.execute(sql: "INSERT INTO anomalies_v12 SELECT * FROM anomalies")
            try db.execute(sql: "DROP TABLE anomalies")
            try db.execute(sql: "ALTER TABLE anomalies_v12 RENAME TO anomalies")
            for index in indexes { try db.execute(sql: index) }
        }
        // Issue 16: the hindsight review of a closed episode (NULL until reviewed, or when never reviewed).
        migrator.registerMigration("v16-hindsight") { db in
            try db.execute(sql: "ALTER TABLE anomalies ADD COLUMN hindsight_score REAL")
        }
        // Issue 15: points each series refused, by reason (shown by `omen series`).
        migrator.registerMigration("v15-refusals") { db in
            try db.execute(sql: """
                ALTER TABLE series ADD COLUMN refused_out_of_order INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE series ADD COLUMN refused_future INTEGER NOT NULL DEFAULT 0;
                """)
        }
        // Issue 11: daemon-wide counters an operator reads with `omen series --summary` (series refused at
        // `limits.max_series`, evicted when idle, restored), with the latest refused key as an example.
        migrator.registerMigration("v11-daemon-counters") { db in
            try db.execute(sql: """
                CREATE TABLE daemon_counters (
                    name       TEXT    PRIMARY KEY,
                    value      INTEGER NOT NULL,
                    detail     TEXT,
                    updated_at REAL    NOT NULL
                );
                CREATE INDEX models_by_saved_at ON models(saved_at);
                """)
        }
        registerOperatorMigrations(&migrator)
        // Issue 10: the evidence behind an episode's peak (`AnomalyCause`); NULL for episodes stored before it.
        migrator.registerMigration("v10-episode-cause") { db in
            try db.execute(sql: "ALTER TABLE anomalies ADD COLUMN cause TEXT")
        }
        return migrator
    }
}

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
        return migrator
    }
}

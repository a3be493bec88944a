import GRDB

extension Schema {
    /// Issue 13: operator feedback on episodes (`labels`) and mutes of series by key glob (`mutes`).
    ///
    /// Both use AUTOINCREMENT ids: the daemon polls for rows with an id above the last it saw, so an id must
    /// never be reused, not even after the newest row was replaced or deleted.
    static func registerOperatorMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v13-labels") { db in
            // One label per episode; relabelling replaces the row (and so gives it a new, higher id).
            try db.execute(sql: """
                CREATE TABLE labels (
                    id          INTEGER PRIMARY KEY AUTOINCREMENT,
                    anomaly_id  INTEGER NOT NULL UNIQUE REFERENCES anomalies(id) ON DELETE CASCADE,
                    kind        TEXT    NOT NULL CHECK (kind IN ('not_anomaly', 'confirmed')),
                    note        TEXT,
                    created_at  REAL    NOT NULL
                );
                """)
        }
        migrator.registerMigration("v13-mutes") { db in
            try db.execute(sql: """
                CREATE TABLE mutes (
                    id          INTEGER PRIMARY KEY AUTOINCREMENT,
                    pattern     TEXT    NOT NULL CHECK (length(pattern) > 0),
                    starts_at   REAL    NOT NULL,
                    ends_at     REAL    NOT NULL CHECK (ends_at > starts_at),
                    reason      TEXT,
                    created_at  REAL    NOT NULL,
                    lifted_at   REAL
                );
                CREATE INDEX mutes_by_ends_at ON mutes(ends_at);
                """)
        }
    }
}

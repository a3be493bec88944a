import Detection
import GRDB

extension Store {
    /// Stores the hindsight score of a closed episode (inside the batch's transaction). An episode the store
    /// does not have (deleted by retention meanwhile, or a series never written) is left alone.
    static func record(_ verdict: HindsightVerdict, in db: Database) throws {
        let statement = try db.cachedStatement(sql: """
            UPDATE anomalies SET hindsight_score = ?
            WHERE series_id = (SELECT id FROM series WHERE key = ?) AND episode = ?
            """)
        try statement.execute(arguments: [verdict.score.isFinite ? verdict.score : nil, verdict.series,
                                          verdict.episode])
    }
}

import GRDB

extension BatchWriter {
    /// Adds a series' refusal counts since its previous update (most updates carry none and cost nothing).
    mutating func addRefusals(_ update: SeriesUpdate) throws {
        guard update.refusedOutOfOrder > 0 || update.refusedFuture > 0 else { return }
        let statement = try db.cachedStatement(
            sql: """
                UPDATE series SET refused_out_of_order = refused_out_of_order + ?, refused_future = refused_future + ?
                WHERE key = ?
                """)
        try statement.execute(arguments: [update.refusedOutOfOrder, update.refusedFuture, update.key])
    }
}

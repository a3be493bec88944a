import Detection
import Testing
@testable import History

struct HindsightStoreTests {
    /// A verdict lands on its episode's row (in the same batch as its close, or later), an unknown episode is
    /// ignored, and `byHindsight` lists the highest score first with unreviewed episodes last.
    @Test func verdictsAreStoredAndSortable() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            _ = try store.apply(WriteBatch(events: [
                event(.open, episode: 1, at: 100), event(.close, episode: 1, at: 150, openedAt: 100),
                event(.open, episode: 2, at: 200), event(.close, episode: 2, at: 250, openedAt: 200),
                event(.open, episode: 3, at: 300),
            ], hindsight: [HindsightVerdict(series: "web01.cpu.user", episode: 1, score: 0.2)]))
            _ = try store.apply(WriteBatch(hindsight: [
                HindsightVerdict(series: "web01.cpu.user", episode: 2, score: 0.9),
                HindsightVerdict(series: "web01.cpu.user", episode: 9, score: 0.5),
                HindsightVerdict(series: "no.such.series", episode: 1, score: 0.5),
            ]))
            let newest = try store.anomalies(AnomalyQuery())
            #expect(newest.map(\.number) == [3, 2, 1])
            #expect(newest.map(\.hindsightScore) == [nil, 0.9, 0.2])
            let ranked = try store.anomalies(AnomalyQuery(byHindsight: true))
            #expect(ranked.map(\.number) == [2, 1, 3])
            let table = Listing.anomalies(ranked, format: .table)
            #expect(table.contains("HINDSIGHT") && table.contains("0.9000"))
            #expect(Listing.anomalies(ranked, format: .csv).hasPrefix(
                "id,series,episode,opened_at,closed_at,peak_at,peak_score,value,predicted,lower,upper,threshold,"
                    + "points,model_version,close_reason,label,hindsight_score,cause\n"))
        }
    }
}

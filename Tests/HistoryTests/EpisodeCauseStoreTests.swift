import Foundation
import Testing
import Detection
@testable import History

@Suite struct EpisodeCauseStoreTests {
    /// The stored cause is the peak's: written at the open, replaced by an update, kept by the close (through the
    /// writer's cached fast path and through the upsert), listed in every format and explained by `omen show`.
    @Test func theStoredCauseIsThePeaks() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            func withCause(_ e: EpisodeEvent, _ cause: AnomalyCause?) -> EpisodeEvent {
                var e = e
                e.cause = cause
                return e
            }
            _ = try store.apply(WriteBatch(events: [withCause(event(.open, at: 100), .jump)]))
            #expect(try store.anomalies(AnomalyQuery()).map(\.cause) == [.jump])
            _ = try store.apply(WriteBatch(events: [withCause(event(.update, at: 160, openedAt: 100, peakScore: 0.999), .newHigh)]))
            #expect(try store.anomalies(AnomalyQuery()).map(\.cause) == [.newHigh])
            _ = try store.apply(WriteBatch(events: [withCause(event(.close, at: 400, openedAt: 100), .newHigh)]))
            // An episode this writer never saw open (another instance's, a replay) arrives as an update: the upsert.
            _ = try store.apply(WriteBatch(events: [withCause(event(.update, "db.cpu", at: 500), .frozen)]))
            let records = try store.anomalies(AnomalyQuery())
            #expect(records.map(\.cause) == [.frozen, .newHigh] && records[1].closedAt == 400)
            #expect(Listing.anomalies(records, format: .table).contains("new-high"))
            #expect(Listing.anomalies(records, format: .csv).contains(",frozen\n"))
            #expect(Listing.anomalies(records, format: .json).contains("\"cause\": \"frozen\"")
                || Listing.anomalies(records, format: .json).contains("\"cause\":\"frozen\""))
            let report = EpisodeReport(episode: records[0], label: nil, model: nil).text()
            #expect(report.contains("frozen: the same value repeated"), "\(report)")
            // A row stored without a cause (by an older build) lists as none.
            _ = try store.apply(WriteBatch(events: [event(.open, "old.series", at: 600)]))
            #expect(try store.anomalies(AnomalyQuery(seriesGlob: "old.*")).map(\.cause) == [nil])
            // Filtered by cause: a set of them, none of them, or any (nil, with the rows that have none).
            #expect(try store.anomalies(AnomalyQuery(causes: [.frozen, .newHigh])).map(\.cause) == [.frozen, .newHigh])
            #expect(try store.anomalies(AnomalyQuery(causes: [.hour])).isEmpty)
            #expect(try store.anomalies(AnomalyQuery(causes: [])).isEmpty)
            #expect(try store.anomalies(AnomalyQuery()).count == 3)
            #expect(try AnomalyCause.parseArguments(["new-high,frozen", "hour"]) == [.newHigh, .frozen, .hour])
            #expect(try AnomalyCause.parseArguments([]) == nil)
            #expect(throws: CauseArgumentError.self) { try AnomalyCause.parseArguments(["gremlins"]) }
        }
    }
}

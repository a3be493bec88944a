import Foundation
import Testing
import Detection
@testable import History

@Suite struct OperatorStoreTests {
    /// A label is stored with its episode, listed and filtered by `anomalies`, and relabelling replaces it with a
    /// new, higher id (so a polling daemon sees the change).
    @Test func labelsAreStoredListedFilteredAndReplaced() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            let ids = try store.apply(WriteBatch(events: [event(.open, at: 100), event(.open, "db.io", at: 200)]))
            #expect(try store.label(anomalyID: 999, kind: .confirmed, note: nil, at: 1) == nil)
            let first = try #require(try store.label(anomalyID: ids[0], kind: .notAnomaly, note: "deploy", at: 1000))
            #expect(first.series == "web01.cpu.user" && first.kind == .notAnomaly && first.note == "deploy")
            #expect(first.peakAt == 100 && first.peakScore == 0.995 && first.peakValue == 95 && first.peakPredicted == 12)
            #expect(try store.labels(afterID: 0).map(\.anomalyID) == [ids[0]])
            #expect(try store.labels(afterID: first.id).isEmpty)

            let all = try store.anomalies(AnomalyQuery())
            #expect(all.first { $0.id == ids[0] }?.label == .notAnomaly)
            #expect(all.first { $0.id == ids[1] }?.label == nil)
            #expect(try store.anomalies(AnomalyQuery(label: .kind(.notAnomaly))).map(\.id) == [ids[0]])
            #expect(try store.anomalies(AnomalyQuery(label: LabelFilter.none)).map(\.id) == [ids[1]])
            #expect(try store.anomalies(AnomalyQuery(label: .labelled)).map(\.id) == [ids[0]])
            #expect(try store.anomalies(AnomalyQuery(label: .any)).count == 2)

            let second = try #require(try store.label(anomalyID: ids[0], kind: .confirmed, note: nil, at: 2000))
            #expect(second.id > first.id)
            #expect(try store.labels(afterID: first.id).map(\.kind) == [.confirmed])
            #expect(try store.label(ofAnomaly: ids[0])?.kind == .confirmed)
            #expect(try store.anomaly(id: ids[0])?.label == .confirmed)
            #expect(try store.anomaly(id: 12345) == nil)
            // The JSON listing carries the label.
            #expect(Listing.anomalies(try store.anomalies(AnomalyQuery()), format: .json).contains("\"label\":\"confirmed\""))
        }
    }

    /// Retention deleting an episode takes its label with it.
    @Test func labelsGoWithTheirEpisode() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            let ids = try store.apply(WriteBatch(events: [event(.open, at: 100)]))
            _ = try store.apply(WriteBatch(events: [event(.close, at: 160, openedAt: 100, points: 3)]))
            _ = try store.label(anomalyID: ids[0], kind: .notAnomaly, note: nil, at: 1)
            #expect(try store.deleteClosedAnomalies(closedBefore: 1e12) == 1)
            #expect(try store.labels(afterID: 0).isEmpty)
        }
    }

    /// Mutes are listed while not over, can be lifted once, and survive reopening the file.
    @Test func mutesAddListLiftAndPersist() throws {
        try withDatabasePath { path in
            do {
                let store = try Store(path: path)
                let a = try store.addMute(pattern: "web*", startsAt: 100, endsAt: 200, reason: "deploy", at: 100)
                let b = try store.addMute(pattern: "db.?", startsAt: 150, endsAt: 400, reason: nil, at: 100)
                #expect(b.id > a.id)
                #expect(try store.mutes(at: 120).map(\.id) == [a.id, b.id])
                #expect(try store.mutes(at: 250).map(\.id) == [b.id])
                #expect(a.isActive(at: 120) && !a.isActive(at: 200) && !b.isActive(at: 120))
                let lifted = try #require(try store.liftMute(id: b.id, at: 160))
                #expect(lifted.liftedAt == 160 && !lifted.isActive(at: 170))
                #expect(try store.liftMute(id: b.id, at: 170)?.liftedAt == 160, "lifting twice keeps the first time")
                #expect(try store.liftMute(id: 999, at: 170) == nil)
                #expect(try store.mutes(at: 170).map(\.id) == [a.id])
                try store.close()
            }
            let reopened = try Store.openReadOnly(path: path)
            #expect(try reopened.mutes(at: 0, includeEnded: true).count == 2)
            let text = Listing.mutes(try reopened.mutes(at: 170, includeEnded: true), now: 170, format: .table)
            #expect(text.contains("web*") && text.contains("active") && text.contains("lifted"))
        }
    }

    /// The schema refuses an empty pattern and a mute that ends before it starts.
    @Test func muteConstraintsLiveInTheSchema() throws {
        try withDatabasePath { path in
            let store = try Store(path: path)
            #expect(throws: StoreError.self) { try store.addMute(pattern: "", startsAt: 1, endsAt: 2, reason: nil, at: 1) }
            #expect(throws: StoreError.self) { try store.addMute(pattern: "a", startsAt: 2, endsAt: 2, reason: nil, at: 1) }
        }
    }

    /// `--label` accepts the kinds and the words for either and neither.
    @Test func labelFilterArguments() {
        #expect(LabelFilter(argument: "not-anomaly") == .kind(.notAnomaly))
        #expect(LabelFilter(argument: "not_anomaly") == .kind(.notAnomaly))
        #expect(LabelFilter(argument: "confirmed") == .kind(.confirmed))
        #expect(LabelFilter(argument: "none") == LabelFilter.none)
        #expect(LabelFilter(argument: "labelled") == .labelled)
        #expect(LabelFilter(argument: "maybe") == nil)
    }

    /// `omen show` explains the peak: tail probability and distance in band half-widths.
    @Test func episodeReportExplainsThePeak() throws {
        let record = AnomalyRecord(id: 4, episode: Episode(
            series: "s", number: 2, openedAt: 100, closedAt: nil, peakAt: 160, peakScore: 0.8, value: 28,
            predicted: 12, lower: 8, upper: 16, threshold: 0.35, points: 3, modelVersion: 5, closeReason: nil))
        let report = EpisodeReport(episode: record, label: nil, model: nil)
        #expect(abs((report.peakSurprise ?? 0) - 16) < 1e-9)
        #expect(report.bandDistance == 4)
        #expect(report.text().contains("4.0 band half-widths above the prediction"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        #expect(abs((object["peak_surprise"] as? Double ?? 0) - 16) < 1e-9 && object["label"] is NSNull)
    }
}

import Foundation
import Detection
import GRDB

/// A series' stored model, as `omen show` describes it.
public struct ModelSummary: Sendable, Equatable {
    public var series: String
    public var version: Int
    public var cell: String
    public var hiddenSize: Int
    public var trainedAt: Double?
    public var trainLoss: Double?
    public var validationLoss: Double?
    /// When the checkpoint holding it was written.
    public var savedAt: Double
}

extension Store {
    /// The episode with row id `id`, with its label; nil when there is none.
    public func anomaly(id: Int64) throws(StoreError) -> AnomalyRecord? {
        try read { db in
            try Row.fetchOne(db, sql: """
                SELECT a.id, s.key, a.episode, a.opened_at, a.closed_at, a.peak_at, a.peak_score, a.value, a.predicted,
                       a.lower, a.upper, a.threshold, a.points, a.model_version, a.close_reason, l.kind,
                       a.hindsight_score, a.cause
                FROM anomalies a JOIN series s ON s.id = a.series_id LEFT JOIN labels l ON l.anomaly_id = a.id
                WHERE a.id = ?
                """, arguments: [id]).map(Self.anomalyRecord)
        }
    }

    /// A row of `id, key, episode, opened_at, closed_at, peak_at, peak_score, value, predicted, lower, upper,
    /// threshold, points, model_version, close_reason, label kind, hindsight_score, cause` as a record (a cause
    /// this build does not know reads as none).
    static func anomalyRecord(_ row: Row) -> AnomalyRecord {
        AnomalyRecord(id: row[0], episode: Episode(
            series: row[1], number: row[2], openedAt: row[3], closedAt: row[4], peakAt: row[5],
            peakScore: row[6] ?? .nan, value: row[7] ?? .nan, predicted: row[8] ?? .nan,
            lower: row[9] ?? .nan, upper: row[10] ?? .nan, threshold: row[11] ?? .nan, points: row[12],
            modelVersion: row[13], closeReason: row[14], cause: (row[17] as String?).flatMap(AnomalyCause.init(rawValue:))),
            label: (row[15] as String?).flatMap(LabelKind.init(rawValue:)), hindsightScore: row[16])
    }

    /// The stored model of `series` (its last checkpoint), nil when none was written yet.
    public func modelSummary(series: String) throws(StoreError) -> ModelSummary? {
        try read { db in
            try Row.fetchOne(db, sql: """
                SELECT m.version, m.cell, m.hidden_size, m.trained_at, m.train_loss, m.validation_loss, m.saved_at
                FROM models m JOIN series s ON s.id = m.series_id WHERE s.key = ?
                """, arguments: [series]).map { row in
                ModelSummary(series: series, version: row[0], cell: row[1], hiddenSize: row[2], trainedAt: row[3],
                             trainLoss: row[4], validationLoss: row[5], savedAt: row[6])
            }
        }
    }

    /// The last checkpoint of `series`, nil when none was written yet.
    public func checkpoint(series: String) throws(StoreError) -> ModelCheckpoint? {
        try read { db in
            try Row.fetchOne(db, sql: """
                SELECT s.key, m.cell, m.input_size, m.hidden_size, m.version, m.trained_at, m.train_loss,
                       m.validation_loss, m.blob
                FROM models m JOIN series s ON s.id = m.series_id WHERE s.key = ?
                """, arguments: [series]).map { row in
                let blob: Data = row[8]
                return ModelCheckpoint(key: row[0], cell: row[1], inputSize: row[2], hiddenSize: row[3], version: row[4],
                                       trainedAt: row[5], trainLoss: row[6], validationLoss: row[7], blob: [UInt8](blob))
            }
        }
    }
}

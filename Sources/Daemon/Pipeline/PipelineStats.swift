import Detection
import Synchronization

/// Counters of the whole pipeline, updated by their owners and read by the stats logger and benchmarks.
public final class PipelineStats: Sendable {
    /// Records parsed into points by ingest.
    public let pointsReceived = Atomic<Int>(0)
    /// Points scored by the shards.
    public let pointsProcessed = Atomic<Int>(0)
    /// Malformed or invalid records dropped at ingest (all endpoints).
    public let recordsRejected = Atomic<Int>(0)
    /// Points refused by a series because they were not newer than its last point.
    public let pointsOutOfOrder = Atomic<Int>(0)
    /// Points refused by a series because they were more than `[clock] max_future` ahead of their receive time.
    public let pointsFuture = Atomic<Int>(0)
    /// Messages received on the SUB sockets.
    public let messagesReceived = Atomic<Int>(0)
    /// Episode events (open, update, close) produced.
    public let events = Atomic<Int>(0)
    /// Training runs finished, accepted, rejected.
    public let trainingsDone = Atomic<Int>(0)
    public let trainingsAccepted = Atomic<Int>(0)
    public let trainingsRejected = Atomic<Int>(0)
    /// Trainings a shard ran itself because every trainer was busy (`[daemon] training_share`).
    public let trainingsInline = Atomic<Int>(0)
    /// Series due for training but waiting for a free trainer (sum over shards).
    public let trainingBacklog = Atomic<Int>(0)
    /// Series known to the shards.
    public let series = Atomic<Int>(0)
    /// Rows committed to SQLite and alerts published.
    public let rowsWritten = Atomic<Int>(0)
    public let alertsPublished = Atomic<Int>(0)
    /// Write transactions that failed (the rows are retried).
    public let writeFailures = Atomic<Int>(0)
    /// Checkpoints written.
    public let checkpointsWritten = Atomic<Int>(0)
    /// Series whose final checkpoint at shutdown was skipped because the stop timeout ran out.
    public let checkpointsSkipped = Atomic<Int>(0)
    /// Times ingest had to wait because a shard had `Ingest.maxQueuedBatches` batches queued (overload).
    public let ingestStalls = Atomic<Int>(0)
    /// Distinct new series refused at `limits.max_series`, and their points dropped.
    public let seriesRefused = Atomic<Int>(0)
    public let pointsRefused = Atomic<Int>(0)
    /// Series checkpointed and dropped from memory after `limits.idle_after` (total), restored on a later point
    /// (total), and held only as a checkpoint right now.
    public let seriesEvicted = Atomic<Int>(0)
    public let seriesRestored = Atomic<Int>(0)
    public let seriesIdle = Atomic<Int>(0)
    /// The most recent refused key (for the operator to find the producer).
    let refusedExample = Mutex<String>("")
    /// Per-shard training backlog; `trainingBacklog` is their sum.
    let backlogs = Mutex<[Int]>([])
    /// Rejected records by reason (their sum is `recordsRejected`), for `/metrics`.
    public let rejectedMalformed = Atomic<Int>(0)
    public let rejectedNonFinite = Atomic<Int>(0)
    public let rejectedBadTimestamp = Atomic<Int>(0)
    public let rejectedKeyTooLong = Atomic<Int>(0)
    public let rejectedInvalidUTF8 = Atomic<Int>(0)
    /// Episode events stored, by kind (counted by the writer after its commit).
    public let episodesOpened = Atomic<Int>(0)
    public let episodesClosed = Atomic<Int>(0)
    /// Episodes opened, by the cause of their opening point (slot `causeSlot(_:)`, labelled `causeLabels`); counted
    /// per committed batch, not per point. Read it with `openedByCauseCounts()`.
    let openedByCause = Mutex<[Int]>([Int](repeating: 0, count: PipelineStats.causeLabels.count))
    /// The label of each slot of `openedByCause`: every cause, then "none" (an episode opened before its scorer was
    /// ready).
    static let causeLabels = AnomalyCause.allCases.map(\.rawValue) + ["none"]
    /// The slot of `openedByCause` that counts `cause`.
    static func causeSlot(_ cause: AnomalyCause?) -> Int {
        cause.flatMap { AnomalyCause.allCases.firstIndex(of: $0) } ?? AnomalyCause.allCases.count
    }
    /// Episodes opened so far, by cause label, in `causeLabels` order.
    func openedByCauseCounts() -> [(label: String, count: Int)] {
        let counts = openedByCause.withLock { $0 }
        return zip(Self.causeLabels, counts).map { (label: $0, count: $1) }
    }
    /// Bytes of checkpoint blobs committed.
    public let checkpointBytes = Atomic<Int>(0)

    public init() {}

    /// A point-in-time copy, for logs and `--json` output.
    public func snapshot() -> [String: Int] {
        [
            "points_received": pointsReceived.load(ordering: .relaxed),
            "points_processed": pointsProcessed.load(ordering: .relaxed),
            "records_rejected": recordsRejected.load(ordering: .relaxed),
            "points_out_of_order": pointsOutOfOrder.load(ordering: .relaxed),
            "points_future": pointsFuture.load(ordering: .relaxed),
            "messages_received": messagesReceived.load(ordering: .relaxed),
            "events": events.load(ordering: .relaxed),
            "trainings_done": trainingsDone.load(ordering: .relaxed),
            "trainings_accepted": trainingsAccepted.load(ordering: .relaxed),
            "trainings_rejected": trainingsRejected.load(ordering: .relaxed),
            "trainings_inline": trainingsInline.load(ordering: .relaxed),
            "training_backlog": trainingBacklog.load(ordering: .relaxed),
            "series": series.load(ordering: .relaxed),
            "rows_written": rowsWritten.load(ordering: .relaxed),
            "alerts_published": alertsPublished.load(ordering: .relaxed),
            "write_failures": writeFailures.load(ordering: .relaxed),
            "checkpoints_written": checkpointsWritten.load(ordering: .relaxed),
            "checkpoints_skipped": checkpointsSkipped.load(ordering: .relaxed),
            "ingest_stalls": ingestStalls.load(ordering: .relaxed),
            "series_refused": seriesRefused.load(ordering: .relaxed),
            "points_refused": pointsRefused.load(ordering: .relaxed),
            "series_evicted": seriesEvicted.load(ordering: .relaxed),
            "series_restored": seriesRestored.load(ordering: .relaxed),
            "series_idle": seriesIdle.load(ordering: .relaxed),
        ]
    }
}

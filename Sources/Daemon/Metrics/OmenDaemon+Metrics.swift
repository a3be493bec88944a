import Detection
import Foundation
import Messaging

extension OmenDaemon {
    /// Every exported metric's current value, read from the pipeline's counters (no locks on the per-point path
    /// are taken; the latency percentiles sort a copy of the recent samples).
    func metricsSnapshot() -> MetricsSnapshot {
        var s = MetricsSnapshot()
        func counter(_ name: String, _ help: String, _ value: Int, _ labels: [(String, String)] = []) {
            s.counters.append(MetricSample(name: name, help: help, labels: labels, value: Double(value)))
        }
        func gauge(_ name: String, _ help: String, _ value: Double, _ labels: [(String, String)] = []) {
            s.gauges.append(MetricSample(name: name, help: help, labels: labels, value: value))
        }
        let st = stats
        counter("omen_messages_received_total", "ZeroMQ messages received on the ingest sockets.",
                st.messagesReceived.load(ordering: .relaxed))
        counter("omen_points_received_total", "Records parsed into points by ingest.",
                st.pointsReceived.load(ordering: .relaxed))
        let rejectedHelp = "Records or points refused, by reason (out_of_order: refused by their series)."
        let rejected: [(String, Int)] = [
            ("malformed", st.rejectedMalformed.load(ordering: .relaxed)),
            ("non_finite", st.rejectedNonFinite.load(ordering: .relaxed)),
            ("bad_timestamp", st.rejectedBadTimestamp.load(ordering: .relaxed)),
            ("key_too_long", st.rejectedKeyTooLong.load(ordering: .relaxed)),
            ("invalid_utf8", st.rejectedInvalidUTF8.load(ordering: .relaxed)),
            ("out_of_order", st.pointsOutOfOrder.load(ordering: .relaxed)),
        ]
        for (reason, count) in rejected {
            counter("omen_points_rejected_total", rejectedHelp, count, [("reason", reason)])
        }
        counter("omen_points_scored_total", "Points scored by the shards.", st.pointsProcessed.load(ordering: .relaxed))
        counter("omen_episodes_opened_total", "Anomaly episodes opened (stored).", st.episodesOpened.load(ordering: .relaxed))
        counter("omen_episodes_closed_total", "Anomaly episodes closed (stored).", st.episodesClosed.load(ordering: .relaxed))
        for (name, count) in st.openedByCauseCounts() {
            counter("omen_episodes_opened_by_cause_total",
                    "Anomaly episodes opened (stored), by the evidence behind their opening point (none: no scorer yet).",
                    count, [("cause", name)])
        }
        counter("omen_episode_events_total", "Episode events (open, update, close) produced by the shards.",
                st.events.load(ordering: .relaxed))
        counter("omen_trainings_total", "Retrainings finished, by outcome.", st.trainingsAccepted.load(ordering: .relaxed),
                [("outcome", "accepted")])
        counter("omen_trainings_total", "Retrainings finished, by outcome.", st.trainingsRejected.load(ordering: .relaxed),
                [("outcome", "rejected")])
        counter("omen_ingest_stalls_total", "Times ingest waited for a shard with a full mailbox (overload).",
                st.ingestStalls.load(ordering: .relaxed))
        counter("omen_rows_written_total", "Rows committed to SQLite.", st.rowsWritten.load(ordering: .relaxed))
        counter("omen_write_failures_total", "Write transactions that failed (their rows are retried).",
                st.writeFailures.load(ordering: .relaxed))
        counter("omen_alerts_published_total", "Alerts sent on the PUB sockets.", st.alertsPublished.load(ordering: .relaxed))
        counter("omen_checkpoints_written_total", "Series checkpoints committed.",
                st.checkpointsWritten.load(ordering: .relaxed))
        counter("omen_checkpoint_bytes_total", "Bytes of series checkpoints committed.",
                st.checkpointBytes.load(ordering: .relaxed))

        var trained = 0, muted = 0
        for shard in shards {
            trained += shard.seriesTrained.load(ordering: .relaxed)
            muted += shard.seriesMuted.load(ordering: .relaxed)
        }
        let total = st.series.load(ordering: .relaxed)
        let seriesHelp = "Series known to the shards, by model state."
        gauge("omen_series", seriesHelp, Double(max(0, total - trained)), [("state", "learning")])
        gauge("omen_series", seriesHelp, Double(trained), [("state", "trained")])
        gauge("omen_series_muted", "Series muted right now (omen mute).", Double(muted))
        gauge("omen_mutes_active", "Mutes in force right now.", Double(operatorState.activeMutes))
        gauge("omen_training_backlog", "Series due for retraining and waiting for a free trainer.",
              Double(st.trainingBacklog.load(ordering: .relaxed)))
        if let p = latencyPercentiles() {
            let help = "Receive-to-scored latency of recent batches, seconds."
            gauge("omen_receive_to_scored_seconds", help, p.p50, [("percentile", "50")])
            gauge("omen_receive_to_scored_seconds", help, p.p99, [("percentile", "99")])
        }
        if let rss = ProcessMemory.residentBytes() {
            gauge("omen_resident_memory_bytes", "Resident set size of the daemon, bytes.", Double(rss))
        }
        gauge("omen_start_time_seconds", "When the daemon started, Unix seconds.", startedAt)
        gauge("omen_build_info", "The running omen's version (value 1).", 1, [("version", OmenVersion.string)])
        return s
    }

    /// The exposition text of the current metrics.
    func renderMetrics() -> [UInt8] {
        metrics.render(metricsSnapshot())
    }
}

/// The process's memory as the kernel counts it.
enum ProcessMemory {
    /// Resident set size in bytes, from /proc/self/statm (nil where there is no procfs).
    static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

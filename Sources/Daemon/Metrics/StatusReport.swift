import Foundation

/// `omen status`: the daemon's `/metrics` as a summary for people (or one JSON object for scripts).
public struct StatusReport: Sendable {
    public var address: String
    public var healthy: Bool
    public var samples: [PrometheusSample]

    public init(address: String, healthy: Bool, samples: [PrometheusSample]) {
        self.address = address
        self.healthy = healthy
        self.samples = samples
    }

    private func v(_ name: String, _ labels: [String: String] = [:]) -> Double {
        PrometheusText.value(samples, name, labels) ?? 0
    }

    private var version: String {
        samples.first { $0.name == "omen_build_info" }?.labels["version"] ?? "unknown"
    }

    /// The samples of `name` by the value of their `label`, largest first, without the zeros.
    private func breakdown(_ name: String, by label: String) -> [(String, Double)] {
        samples.filter { $0.name == name && $0.value > 0 }
            .map { ($0.labels[label] ?? "?", $0.value) }
            .sorted { $0.1 > $1.1 }
    }

    /// Rejections by reason.
    private var rejections: [(String, Double)] { breakdown("omen_points_rejected_total", by: "reason") }

    /// Episodes opened by cause.
    private var openedByCause: [(String, Double)] { breakdown("omen_episodes_opened_by_cause_total", by: "cause") }

    /// Mean writer transaction time in seconds, from the histogram's sum and count (nil before any flush).
    private var meanFlush: Double? {
        let count = v("omen_writer_flush_seconds_count")
        return count > 0 ? v("omen_writer_flush_seconds_sum") / count : nil
    }

    /// The human summary, a few aligned lines.
    public func text(now: Double) -> String {
        func n(_ x: Double) -> String { String(Int64(x.rounded())) }
        /// " (a 3, b 1)" for a breakdown, nothing when it is empty.
        func listed(_ breakdown: [(String, Double)]) -> String {
            breakdown.isEmpty ? "" : " (" + breakdown.map { "\($0.0) \(n($0.1))" }.joined(separator: ", ") + ")"
        }
        let started = v("omen_start_time_seconds")
        let uptime = started > 0 ? Self.duration(now - started) : "unknown"
        let learning = v("omen_series", ["state": "learning"]), trained = v("omen_series", ["state": "trained"])
        let rejected = rejections
        var lines: [(String, String)] = []
        lines.append(("daemon", "omen \(version) at \(address), up \(uptime), \(healthy ? "healthy" : "UNHEALTHY")"))
        lines.append(("series", "\(n(learning + trained)) (\(n(trained)) trained, \(n(learning)) learning, "
            + "\(n(v("omen_series_muted"))) muted by \(n(v("omen_mutes_active"))) active mutes)"))
        let points = "received \(n(v("omen_points_received_total"))), scored \(n(v("omen_points_scored_total"))), "
            + "rejected \(n(rejected.reduce(0) { $0 + $1.1 }))" + listed(rejected)
        lines.append(("points", points))
        let episodes = "opened \(n(v("omen_episodes_opened_total")))" + listed(openedByCause)
            + ", closed \(n(v("omen_episodes_closed_total"))), alerts published \(n(v("omen_alerts_published_total")))"
        lines.append(("episodes", episodes))
        lines.append(("training", "accepted \(n(v("omen_trainings_total", ["outcome": "accepted"]))), "
            + "rejected \(n(v("omen_trainings_total", ["outcome": "rejected"]))), backlog \(n(v("omen_training_backlog")))"))
        var latency = "ingest stalls \(n(v("omen_ingest_stalls_total")))"
        if let p50 = PrometheusText.value(samples, "omen_receive_to_scored_seconds", ["percentile": "50"]),
           let p99 = PrometheusText.value(samples, "omen_receive_to_scored_seconds", ["percentile": "99"]) {
            latency += ", receive-to-scored p50 \(Self.seconds(p50)), p99 \(Self.seconds(p99))"
        }
        lines.append(("pipeline", latency))
        var writer = "rows \(n(v("omen_rows_written_total"))), failures \(n(v("omen_write_failures_total")))"
        if let mean = meanFlush { writer += ", mean flush \(Self.seconds(mean))" }
        lines.append(("writer", writer))
        lines.append(("checkpoints", "\(n(v("omen_checkpoints_written_total"))) written, "
            + Self.bytes(v("omen_checkpoint_bytes_total"))))
        lines.append(("memory", "resident " + Self.bytes(v("omen_resident_memory_bytes"))))
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { $0.0 + ":" + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 + "\n" }.joined()
    }

    /// One JSON object with the same figures (numbers as they are, snake_case keys).
    public func json() -> String {
        func num(_ x: Double) -> String { x.isFinite ? (x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)) : "null" }
        /// Every sample of `name` (zeros too) as one object keyed by its `label`.
        func object(_ name: String, by label: String) -> String {
            "{" + samples.filter { $0.name == name }.map { "\"\($0.labels[label] ?? "?")\":\(num($0.value))" }
                .joined(separator: ",") + "}"
        }
        var fields: [(String, String)] = [
            ("address", "\"\(address)\""), ("version", "\"\(version)\""), ("healthy", healthy ? "true" : "false"),
            ("start_time", num(v("omen_start_time_seconds"))),
            ("series_learning", num(v("omen_series", ["state": "learning"]))),
            ("series_trained", num(v("omen_series", ["state": "trained"]))),
            ("series_muted", num(v("omen_series_muted"))), ("mutes_active", num(v("omen_mutes_active"))),
            ("points_received", num(v("omen_points_received_total"))),
            ("points_scored", num(v("omen_points_scored_total"))),
            ("points_rejected", object("omen_points_rejected_total", by: "reason")),
            ("episodes_opened", num(v("omen_episodes_opened_total"))),
            ("episodes_opened_by_cause", object("omen_episodes_opened_by_cause_total", by: "cause")),
            ("episodes_closed", num(v("omen_episodes_closed_total"))),
            ("alerts_published", num(v("omen_alerts_published_total"))),
            ("trainings_accepted", num(v("omen_trainings_total", ["outcome": "accepted"]))),
            ("trainings_rejected", num(v("omen_trainings_total", ["outcome": "rejected"]))),
            ("training_backlog", num(v("omen_training_backlog"))),
            ("ingest_stalls", num(v("omen_ingest_stalls_total"))),
            ("rows_written", num(v("omen_rows_written_total"))),
            ("write_failures", num(v("omen_write_failures_total"))),
            ("writer_flush_mean_seconds", meanFlush.map(num) ?? "null"),
            ("checkpoints_written", num(v("omen_checkpoints_written_total"))),
            ("checkpoint_bytes", num(v("omen_checkpoint_bytes_total"))),
            ("resident_memory_bytes", num(v("omen_resident_memory_bytes"))),
        ]
        for (q, key) in [("50", "receive_to_scored_p50_seconds"), ("99", "receive_to_scored_p99_seconds")] {
            fields.append((key, PrometheusText.value(samples, "omen_receive_to_scored_seconds", ["percentile": q]).map(num) ?? "null"))
        }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}\n"
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(max(0, seconds))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m \(s % 60)s" }
        if s < 86_400 { return "\(s / 3600)h \(s % 3600 / 60)m" }
        return "\(s / 86_400)d \(s % 86_400 / 3600)h"
    }

    static func seconds(_ s: Double) -> String {
        if s < 1e-3 { return String(format: "%.0f µs", s * 1e6) }
        if s < 1 { return String(format: "%.1f ms", s * 1e3) }
        return String(format: "%.2f s", s)
    }

    static func bytes(_ b: Double) -> String {
        if b < 1024 { return "\(Int(b)) B" }
        if b < 1024 * 1024 { return String(format: "%.1f KB", b / 1024) }
        if b < 1024 * 1024 * 1024 { return String(format: "%.1f MB", b / 1024 / 1024) }
        return String(format: "%.2f GB", b / 1024 / 1024 / 1024)
    }
}

import CoreMetrics
import Prometheus
import Synchronization

/// One value of a metric at scrape time: a counter's running total or a gauge's current value.
struct MetricSample: Sendable {
    var name: String
    var help: String
    var labels: [(String, String)] = []
    var value: Double
}

/// What a scrape exports: the pipeline's counters and gauges, read from the atomics their owners update.
struct MetricsSnapshot: Sendable {
    var counters: [MetricSample] = []
    var gauges: [MetricSample] = []
}

/// The daemon's self-metrics in the Prometheus text format, through swift-prometheus's registry.
///
/// The per-point path never touches this: shards, ingest and the writer keep counting on the atomic counters of
/// `PipelineStats` (once per batch), and a scrape copies those totals into the registry (a counter is raised
/// by what it grew since the previous scrape). Only the writer's flush latency is recorded as it happens, once
/// per transaction, through swift-metrics' `Timer` over the same registry.
final class DaemonMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// `omen_writer_flush_seconds`: the duration of every committed write transaction.
    let flushTimer: FlushTimer
    /// The totals each counter had at the previous scrape; the lock also serialises scrapes.
    private let exported = Mutex<[String: Double]>([:])

    init() {
        // Made here rather than through PrometheusMetricsFactory, which registers timers without help text
        // (`promtool check metrics` flags that); swift-metrics' Timer drives it all the same.
        let histogram = registry.makeDurationHistogram(
            descriptor: Self.descriptor(FlushTimer.name, "Duration of the writer's SQLite transactions, seconds."),
            buckets: [
                .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                .milliseconds(2500), .seconds(5), .seconds(10),
            ])
        flushTimer = FlushTimer(CoreMetrics.Timer(label: FlushTimer.name, dimensions: [], handler: histogram))
    }

    /// A full metric name and its help text as swift-prometheus describes a metric.
    static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// The exposition text after copying `snapshot` into the registry.
    func render(_ snapshot: MetricsSnapshot) -> [UInt8] {
        exported.withLock { last in
            for sample in snapshot.counters {
                let key = Self.key(sample)
                let delta = sample.value - (last[key] ?? 0)
                let counter = registry.makeCounter(descriptor: Self.descriptor(sample.name, sample.help), labels: sample.labels)
                if delta > 0 {
                    counter.increment(by: Int64(delta.rounded()))
                    last[key] = sample.value
                }
            }
            for sample in snapshot.gauges {
                registry.makeGauge(descriptor: Self.descriptor(sample.name, sample.help), labels: sample.labels)
                    .set(to: sample.value)
            }
            return registry.emitToBuffer()
        }
    }

    private static func key(_ sample: MetricSample) -> String {
        sample.labels.reduce(sample.name) { $0 + "|" + $1.0 + "=" + $1.1 }
    }
}

/// Times the writer's transactions (swift-metrics `Timer`, exported as a Prometheus histogram).
final class FlushTimer: Sendable {
    static let name = "omen_writer_flush_seconds"
    private let timer: CoreMetrics.Timer

    init(_ timer: CoreMetrics.Timer) { self.timer = timer }

    /// Records the time from `start` to now.
    func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let (seconds, attoseconds) = elapsed.components
        timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

// How often a series reports, for turning a per-point surprise into a per-day one: a series that reports every
// minute has 1,440 chances a day to show a 1-in-1,440 value by chance, one that reports hourly has 24.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The typical spacing of a series' timestamps: an exponentially weighted mean of log spacing (a geometric mean,
/// so a gap of a day in a 5-minute series moves it by a fifth, not tenfold).
struct Cadence: Sendable, Equatable {
    var lastTimestamp = Double.nan
    /// Mean of ln(spacing in seconds); NaN until two points were seen.
    var logSpacing = Double.nan
    /// log10 of points per day at that spacing, never below 0 (series a day apart or more: no correction).
    private(set) var log10PointsPerDay = 0.0

    static let memory = 32.0
    static let log10SecondsPerDay = log10(86_400.0)

    mutating func observe(_ t: Double) {
        defer { lastTimestamp = t }
        guard lastTimestamp.isFinite, t > lastTimestamp else { return }
        let l = log(t - lastTimestamp)
        logSpacing = logSpacing.isFinite ? logSpacing + (l - logSpacing) / Self.memory : l
        log10PointsPerDay = max(0, Self.log10SecondsPerDay - logSpacing * Surprise.log10e)
    }

    /// −log10 of the probability that a day of points at this cadence holds at least one with surprise `s`
    /// (−log10 p): 1 − (1 − p)^N ≈ 1 − exp(−N p). About s − log10 N for rare points; smooth and above 0 for
    /// common ones, so scores stay ordered.
    @inline(__always)
    func perDay(_ s: Double) -> Double {
        guard log10PointsPerDay > 0 else { return s }
        let lx = log10PointsPerDay - s // log10(N p)
        if lx < -8 { return s - log10PointsPerDay }
        return -log10(-expm1(-pow(10, lx)))
    }

    func encode(into w: inout ByteWriter) {
        w.double(lastTimestamp); w.double(logSpacing); w.double(log10PointsPerDay)
    }

    /// Restores what `encode` wrote; the points a day are derived again from the spacing, not trusted.
    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        lastTimestamp = try r.double()
        logSpacing = try r.double()
        _ = try r.double()
        log10PointsPerDay = logSpacing.isFinite ? max(0, Self.log10SecondsPerDay - logSpacing * Surprise.log10e) : 0
    }
}

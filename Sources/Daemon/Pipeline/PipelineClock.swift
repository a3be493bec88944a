/// The two clocks the shards and the writer read: monotonic seconds for intervals and latencies, wall seconds for
/// training due times and the times stored with rows. Injected, so that a test drives a shard or the writer
/// in-process with a clock it moves by hand.
struct PipelineClock: Sendable {
    var monotonic: @Sendable () -> Double
    var wall: @Sendable () -> Double

    /// The system's clocks.
    static let system = PipelineClock(monotonic: { monotonicSeconds() }, wall: { wallSeconds() })
}

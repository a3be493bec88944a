/// How many series the daemon holds in memory, and how long a silent one stays.
public struct LimitsConfig: Sendable, Equatable {
    /// Most series held in memory at once (0 = no limit). At the limit a new series is refused: its points are
    /// dropped and counted until a slot frees (an idle series is evicted); the series already held keep detecting.
    public var maxSeries: Int = 100_000
    /// Seconds without a point after which a series is checkpointed and dropped from memory (0 = never). Its next
    /// point restores it from its checkpoint (model, state, episode), off the shard's per-point path.
    public var idleAfter: Double = 3600
    /// Seconds without a point after which an evicted series' checkpoint is deleted (0 = never); a later point
    /// then starts the series afresh.
    public var idleDeleteAfter: Double = 30 * 86_400

    public init() {}
}

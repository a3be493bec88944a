// `[clock]`: how far a point's timestamp may run ahead of the time it arrived, and how a series recovers from one
// that ran ahead anyway.

/// Timestamps against the receive clock.
public struct ClockConfig: Sendable, Equatable {
    /// A point stamped more than this many seconds after it was received is refused (counted per series as
    /// `future`): one bad clock must not stamp a series a day ahead and silence it until then.
    public var maxFuture: Double = 600
    /// After this many consecutive points refused as not newer than the series' last point, while that last point
    /// is itself still ahead of the receive clock, the series re-anchors: it takes the newest point as its time.
    public var reanchorAfter: Int = 10

    public init() {}
}

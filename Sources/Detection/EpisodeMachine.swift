/// The episode state machine of one series: open when the score crosses the threshold, update on a new peak
/// while open, close after `closeAfter` normal points in a row; no new episode during the refractory period.
///
/// Driven by points (their timestamps are the clock), so it is deterministic and tested without I/O.
public struct EpisodeMachine: Sendable, Equatable {
    public var config: EpisodeConfig
    /// The series key every episode of this machine carries.
    public let series: String
    /// The last episode number handed out; the next episode gets `lastEpisode + 1`.
    public private(set) var lastEpisode: Int
    /// The open episode, if any.
    public private(set) var open: EpisodeEvent? {
        didSet { isOpen = open != nil }
    }
    /// Whether an episode is open. Stored, not computed from `open`, so that reading it through the detector
    /// (every point, twice) loads one Bool instead of copying the machine with its episode's strings.
    public private(set) var isOpen = false
    private var normalRun = 0
    private var refractoryLeft = 0

    public init(config: EpisodeConfig, series: String, lastEpisode: Int = 0) {
        self.config = config
        self.series = series
        self.lastEpisode = lastEpisode
    }

    /// Raises the episode counter (after a restart, to the highest number the store has seen).
    public mutating func reserveEpisodes(upTo n: Int) {
        lastEpisode = Swift.max(lastEpisode, n)
    }

    /// Feeds one scored point; returns the transition it caused, if any.
    public mutating func observe(timestamp: Double, value: Double, predicted: Double, lower: Double, upper: Double,
                                 score: Double, modelVersion: Int, cause: AnomalyCause? = nil) -> EpisodeEvent? {
        let high = score >= config.threshold
        if var event = open {
            event.episode.points += 1
            event.timestamp = timestamp
            if high {
                normalRun = 0
                if score > event.episode.peakScore {
                    event.episode.peakScore = score
                    event.episode.peakAt = timestamp
                    event.episode.value = value
                    event.episode.predicted = predicted
                    event.episode.lower = lower
                    event.episode.upper = upper
                    event.episode.modelVersion = modelVersion
                    event.episode.cause = cause
                    event.score = score
                    event.kind = .update
                    open = event
                    return event
                }
                open = event
                return nil
            }
            normalRun += 1
            if normalRun >= config.closeAfter {
                event.kind = .close
                event.episode.closedAt = timestamp
                event.score = score
                open = nil
                normalRun = 0
                refractoryLeft = config.refractory
                return event
            }
            open = event
            return nil
        }
        if refractoryLeft > 0 {
            refractoryLeft -= 1
            return nil
        }
        guard high else { return nil }
        lastEpisode += 1
        let event = EpisodeEvent(kind: .open, timestamp: timestamp, score: score, episode: Episode(
            series: series, number: lastEpisode, openedAt: timestamp, peakAt: timestamp, peakScore: score,
            value: value, predicted: predicted, lower: lower, upper: upper, threshold: config.threshold, points: 1,
            modelVersion: modelVersion, cause: cause))
        open = event
        normalRun = 0
        return event
    }

    /// Closes the open episode, if any, with a reason (e.g. a checkpoint that cannot be restored).
    public mutating func forceClose(timestamp: Double, reason: String) -> EpisodeEvent? {
        guard var event = open else { return nil }
        event.kind = .close
        event.episode.closedAt = timestamp
        event.episode.closeReason = reason
        open = nil
        normalRun = 0
        return event
    }
}

extension EpisodeMachine {
    /// Serialises the machine (for the detector's checkpoint).
    func write(to w: inout ByteWriter) {
        w.int(lastEpisode)
        w.int(normalRun)
        w.int(refractoryLeft)
        if let event = open {
            let e = event.episode
            w.u8(1)
            w.int(e.number)
            w.double(event.timestamp); w.double(e.openedAt); w.double(e.peakAt); w.double(e.peakScore)
            w.double(e.value); w.double(e.predicted); w.double(e.lower); w.double(e.upper); w.double(event.score)
            w.double(e.threshold); w.int(e.points); w.int(e.modelVersion)
            w.u8(e.cause?.code ?? 0)
        } else {
            w.u8(0)
        }
    }

    /// Reads what `write(to:)` wrote; `withCause` for detector checkpoints of version 7 on, which hold the open
    /// episode's cause.
    init(config: EpisodeConfig, reading r: inout ByteReader, series: String, withCause: Bool) throws(CheckpointError) {
        self.init(config: config, series: series, lastEpisode: try r.int())
        normalRun = try r.int()
        refractoryLeft = try r.int()
        if try r.u8() == 1 {
            let episode = try r.int()
            let ts = try r.double(), opened = try r.double(), peakAt = try r.double(), peak = try r.double()
            let value = try r.double(), predicted = try r.double(), lower = try r.double(), upper = try r.double()
            let score = try r.double(), threshold = try r.double(), points = try r.int(), version = try r.int()
            let cause = withCause ? AnomalyCause(code: try r.u8()) : nil
            open = EpisodeEvent(kind: .update, timestamp: ts, score: score, episode: Episode(
                series: series, number: episode, openedAt: opened, peakAt: peakAt, peakScore: peak, value: value,
                predicted: predicted, lower: lower, upper: upper, threshold: threshold, points: points,
                modelVersion: version, cause: cause))
            isOpen = true  // observers do not run in initialisers
        }
    }
}

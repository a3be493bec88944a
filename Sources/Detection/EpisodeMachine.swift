/// The episode state machine of one series: open when the score crosses the threshold, update on a new peak
/// while open, close after `closeAfter` normal points in a row; no new episode during the refractory period.
///
/// Driven by points (their timestamps are the clock), so it is deterministic and tested without I/O.
public struct EpisodeMachine: Sendable, Equatable {
    public var config: EpisodeConfig
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

    public init(config: EpisodeConfig, lastEpisode: Int = 0) {
        self.config = config
        self.lastEpisode = lastEpisode
    }

    /// Raises the episode counter (after a restart, to the highest number the store has seen).
    public mutating func reserveEpisodes(upTo n: Int) {
        lastEpisode = Swift.max(lastEpisode, n)
    }

    /// Feeds one scored point; returns the transition it caused, if any.
    public mutating func observe(timestamp: Double, value: Double, predicted: Double, lower: Double, upper: Double,
                                 score: Double, modelVersion: Int) -> EpisodeEvent? {
        let high = score >= config.threshold
        if var episode = open {
            episode.points += 1
            episode.timestamp = timestamp
            if high {
                normalRun = 0
                if score > episode.peakScore {
                    episode.peakScore = score
                    episode.peakAt = timestamp
                    episode.value = value
                    episode.predicted = predicted
                    episode.lower = lower
                    episode.upper = upper
                    episode.score = score
                    episode.modelVersion = modelVersion
                    episode.kind = .update
                    open = episode
                    return episode
                }
                open = episode
                return nil
            }
            normalRun += 1
            if normalRun >= config.closeAfter {
                episode.kind = .close
                episode.closedAt = timestamp
                episode.score = score
                open = nil
                normalRun = 0
                refractoryLeft = config.refractory
                return episode
            }
            open = episode
            return nil
        }
        if refractoryLeft > 0 {
            refractoryLeft -= 1
            return nil
        }
        guard high else { return nil }
        lastEpisode += 1
        let episode = EpisodeEvent(
            kind: .open, series: "", episode: lastEpisode, timestamp: timestamp, openedAt: timestamp,
            peakAt: timestamp, peakScore: score, value: value, predicted: predicted, lower: lower, upper: upper,
            score: score, threshold: config.threshold, points: 1, modelVersion: modelVersion)
        open = episode
        normalRun = 0
        return episode
    }

    /// Closes the open episode, if any, with a reason (e.g. a checkpoint that cannot be restored).
    public mutating func forceClose(timestamp: Double, reason: String) -> EpisodeEvent? {
        guard var episode = open else { return nil }
        episode.kind = .close
        episode.closedAt = timestamp
        episode.reason = reason
        open = nil
        normalRun = 0
        return episode
    }
}

extension EpisodeMachine {
    /// Serialises the machine (for the detector's checkpoint).
    func write(to w: inout ByteWriter) {
        w.int(lastEpisode)
        w.int(normalRun)
        w.int(refractoryLeft)
        if let e = open {
            w.u8(1)
            w.int(e.episode)
            w.double(e.timestamp); w.double(e.openedAt); w.double(e.peakAt); w.double(e.peakScore)
            w.double(e.value); w.double(e.predicted); w.double(e.lower); w.double(e.upper); w.double(e.score)
            w.double(e.threshold); w.int(e.points); w.int(e.modelVersion)
        } else {
            w.u8(0)
        }
    }

    init(config: EpisodeConfig, reading r: inout ByteReader, series: String) throws(CheckpointError) {
        self.init(config: config, lastEpisode: try r.int())
        normalRun = try r.int()
        refractoryLeft = try r.int()
        if try r.u8() == 1 {
            let episode = try r.int()
            let ts = try r.double(), opened = try r.double(), peakAt = try r.double(), peak = try r.double()
            let value = try r.double(), predicted = try r.double(), lower = try r.double(), upper = try r.double()
            let score = try r.double(), threshold = try r.double(), points = try r.int(), version = try r.int()
            open = EpisodeEvent(kind: .update, series: series, episode: episode, timestamp: ts, openedAt: opened,
                                peakAt: peakAt, peakScore: peak, value: value, predicted: predicted, lower: lower,
                                upper: upper, score: score, threshold: threshold, points: points,
                                modelVersion: version)
            isOpen = true  // observers do not run in initialisers
        }
    }
}

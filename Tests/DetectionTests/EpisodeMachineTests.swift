import Detection
import Testing

struct EpisodeMachineTests {
    func machine(threshold: Double = 0.9, closeAfter: Int = 3, refractory: Int = 0) -> EpisodeMachine {
        var c = EpisodeConfig()
        c.threshold = threshold
        c.closeAfter = closeAfter
        c.refractory = refractory
        return EpisodeMachine(config: c, series: "s")
    }

    func feed(_ m: inout EpisodeMachine, _ scores: [Double], from t0: Double = 0) -> [EpisodeEvent?] {
        scores.enumerated().map { i, s in
            m.observe(timestamp: t0 + Double(i), value: Double(i), predicted: 0, lower: -1, upper: 1, score: s, modelVersion: 1)
        }
    }

    /// Crossing the threshold opens an episode; a higher score updates it; `closeAfter` normal points close it.
    @Test func opensUpdatesAndCloses() {
        var m = machine()
        let events = feed(&m, [0.1, 0.95, 0.92, 0.97, 0.1, 0.1, 0.1, 0.1])
        #expect(events[0] == nil)
        #expect(events[1]?.kind == .open)
        #expect(events[1]?.number == 1)
        #expect(events[2] == nil, "a lower high score is not a new peak")
        #expect(events[3]?.kind == .update)
        #expect(events[3]?.peakScore == 0.97)
        #expect(events[3]?.peakAt == 3)
        #expect(events[4] == nil && events[5] == nil)
        #expect(events[6]?.kind == .close)
        #expect(events[6]?.closedAt == 6)
        #expect(events[6]?.points == 6)
        #expect(events[7] == nil)
        #expect(!m.isOpen)
    }

    /// A high score during the normal run resets the count, so the episode stays open.
    @Test func highScoreResetsTheCloseCount() {
        var m = machine()
        let events = feed(&m, [0.95, 0.1, 0.1, 0.93, 0.1, 0.1, 0.1])
        #expect(events[0]?.kind == .open)
        #expect(events[3] == nil)
        #expect(events[5] == nil)
        #expect(events[6]?.kind == .close)
    }

    /// No new episode opens during the refractory period after a close; episode numbers increase.
    @Test func refractoryPeriodSuppressesReopening() {
        var m = machine(closeAfter: 1, refractory: 2)
        let events = feed(&m, [0.95, 0.1, 0.99, 0.99, 0.99])
        #expect(events[0]?.kind == .open)
        #expect(events[1]?.kind == .close)
        #expect(events[2] == nil && events[3] == nil)
        #expect(events[4]?.kind == .open)
        #expect(events[4]?.number == 2)
    }

    /// After a restart the counter is raised to the store's highest episode, so numbers are never reused.
    @Test func reservedEpisodesAreNotReused() {
        var m = machine()
        m.reserveEpisodes(upTo: 41)
        let events = feed(&m, [0.95])
        #expect(events[0]?.number == 42)
    }

    /// Every event carries the machine's series key: nothing patches it in afterwards.
    @Test func eventsCarryTheSeries() {
        var m = machine()
        let events = feed(&m, [0.95, 0.97, 0.1, 0.1, 0.1]).compactMap { $0 }
        #expect(events.map(\.kind) == [.open, .update, .close])
        #expect(events.allSatisfy { $0.series == "s" })
    }

    /// A forced close carries its reason.
    @Test func forcedCloseCarriesReason() {
        var m = machine()
        _ = feed(&m, [0.95])
        let e = m.forceClose(timestamp: 10, reason: "restart")
        #expect(e?.kind == .close)
        #expect(e?.closeReason == "restart")
        #expect(!m.isOpen)
    }
}

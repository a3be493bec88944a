import Testing
@testable import Detection

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Student-t tail the Gaussian head's z is read against (`ScoringConfig.gaussianDof`).
struct StudentTailTests {
    /// −log10 P(|T| ≥ t) against scipy.stats.t (`-(t.logsf(t, nu) + ln 2) / ln 10`), near the centre, in the
    /// usual quantiles and far into the tail, where a subtraction from 1 would have lost every digit.
    @Test(arguments: [
        (9, 2.262157, 1.3010298801031717), (9, 3.249836, 2.000000318527255), (9, 4.780913, 3.0000002511523842),
        (9, 100, 14.294727452954794), (9, 1e6, 50.293129168710905), (3, 50, 4.754064297554427),
        (1, 1.0, 0.3010299956639811), (30, 8, 8.203021913781752), (9, 0.5, 0.20130012821749355),
        // The finite series (whole degrees of freedom, p above 1e-3), odd and even, and just past where it hands
        // over to the continued fraction.
        (10, 1.0, 0.4673817480622869), (4, 2.5, 1.1754410980500918), (2, 3.0, 1.0201514273368386),
        (9, 1.5, 0.7750769569395868), (9, 5.5, 3.420003892600401), (1, 0.3, 0.08913405699036475),
        (64, 2.0, 1.3032253224655295), (65, 2.0, 1.303799879588763), (9, 2.9, 1.7546015096747116),
    ])
    func matchesReferenceValues(dof: Int, t: Double, expected: Double) {
        let tail = StudentTail(dof: dof)
        let s = tail.twoSided(t)
        #expect(abs(s - expected) < 1e-9 * max(1, expected), "dof \(dof), t \(t): \(s), expected \(expected)")
        #expect(tail.twoSided(-t) == s)
    }

    @Test func isMonotoneZeroAtTheCentreAndCappedAtInfinity() {
        let tail = StudentTail(dof: 9)
        #expect(tail.twoSided(0) == 0)
        #expect(tail.twoSided(.infinity) == 300)
        #expect(tail.twoSided(.nan) == 0)
        var last = 0.0
        for i in 1...400 {
            let s = tail.twoSided(Double(i) * 0.25)
            #expect(s > last)
            last = s
        }
    }

    /// With many degrees of freedom the t tail is the Gaussian's; with few it is far lighter in surprise: a
    /// z = 40 spike is p ≈ 1e-12 for 9 degrees of freedom, not the Gaussian's 1e-350 (capped at 300).
    @Test func approachesTheGaussianAndTamesHugeZ() {
        let gaussian = StudentTail(dof: 0)
        let wide = StudentTail(dof: 1000)
        for z in [1.0, 2, 3, 4] {
            #expect(abs(wide.twoSided(z) - gaussian.twoSided(z)) < 0.02 * gaussian.twoSided(z) + 1e-3)
        }
        let nine = StudentTail(dof: 9)
        #expect(gaussian.twoSided(40) > 300 - 1e-9 || gaussian.twoSided(40) > 100)
        #expect(nine.twoSided(40) > 10 && nine.twoSided(40) < 13)
    }

    /// The default scorer reads a spike on a Student-t tail: one far beyond the head's spread still scores, but
    /// it no longer scores so far beyond the others that one point blocks the onsets of every later one.
    @Test func defaultScorerUsesTheStudentTail() {
        #expect(ScoringConfig().gaussianDof == ScoringConfig().gaussianTail - 1)
        func score(_ dof: Int) -> Double {
            var config = ScoringConfig()
            config.dailyRate = false
            config.gaussianDof = dof
            var scorer = Scorer(config: config)
            var noise = Noise(seed: 5)
            var last = 0.0
            for t in 0..<1000 {
                let v = 50 + noise.gaussian() + (t == 999 ? 40 : 0)
                last = scorer.score(ScoreInput(timestamp: Double(t) * 300, value: v, predicted: t < 300 ? nil : 50,
                                               predictedSpread: t < 300 ? nil : 1)).score
            }
            return last
        }
        let t9 = score(9), gaussian = score(0)
        #expect(t9 >= 0.5, "spike scored \(t9) with the t tail")
        #expect(t9 < gaussian, "t tail \(t9), Gaussian tail \(gaussian)")
    }
}

import Foundation
import FuzzTargets
import Testing

@Suite struct MutationTests {
    /// Seeded mutations of valid inputs (flipped and inserted bytes, cut and spliced ranges, edge-case numbers)
    /// through every decoder: no crash, and every invariant the target checks holds. 100,000 inputs per decoder;
    /// the same seed gives the same inputs, so a failure reproduces.
    @Test(arguments: FuzzTarget.allCases)
    func mutatedInputsKeepInvariants(target: FuzzTarget) {
        let count = 100_000
        var mutator = ByteMutator(seed: 0x0EA1_15 &+ UInt64(target.rawValue.utf8.count), seeds: target.seeds())
        var failures: [String] = []
        var accepted = 0
        for n in 0..<count {
            let input = mutator.next()
            if let broken = target.run(input), failures.count < 5 {
                failures.append(
                    "input \(n) (\(input.count) bytes, \(String(decoding: input.prefix(80), as: UTF8.self).debugDescription)): \(broken)"
                )
            }
            if n % 10 == 0 && target.accepts(input) { accepted += 1 }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        // Mutations keep a share of inputs valid, so the decoders are exercised past their first bytes.
        #expect(accepted >= count / 10 / 100, "only \(accepted) of \(count / 10) sampled inputs were accepted")
    }

    /// Inputs libFuzzer (`make fuzz`) found breaking an invariant, kept so they stay fixed.
    /// - checkpoint: a corrupt time-of-day generation whose median code overflows Float against its center; the
    ///   next generation took that infinite median as its center, and the detector's own checkpoint no longer
    ///   read back (session 7).
    @Test func foundByLibFuzzer() throws {
        let checkpoint = try #require(Data(base64Encoded: [
        "BQsAAAAAAAAAZnV6ei5zZXJpZXNaAAAAAAAAAAAAAED8VNlBAAAAQQFV2XdAAAAAAAAAAMA1/c+LAQAAAgAAAAAAAAAGAAAAAAAA",
        "AEAB4AM/1AgAAAAAAAAAAAAAOjo6Ogr/SW50/////////////////////////////////////////////////////////////3//",
        "//////////////////8B///////z8/MAygRJvsWp4b0AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AGQBAAAAAAAAAgABAAUAAAAEAAAAqgAAAPi4BLi3AAAAAgAAAAAAAAAFAAAAAAAAAHIBAAAAAAAAAAAAAAAAAAAAACkAAIA/AABA",
        "AAAAAAAAQIA/AAAAQL0QaJO+S+HxvvZaI78VQke/mDdjvyUedr/YNH+/7R5+v3nncr/2AF6/AQAAAAAAAABkAQAAAAAAAAIAAQAF",
        "AAAABAAAAKoAAAD4uAS4txwoseY3T7jIOHQ4qbUPuTotxrd+MHcxMLkJOYg2ejb7uZq5mqjSOVIu87SEOEsstTWSORwwWLaOuVE6",
        "bzDhNcw51yYJMXEyODN7NwEyhjM1OnU5dThdulG5PjLxuZG4hDh+NSo397RRsRq6ZDkGtRioVqJAOFi4NDqEN8E55LkeuNk0KTdb",
        "OpC1M7TGuIq2y7k5NXa4drShOHgxI7ZZsmqlMrvuOsu2QzD+ssE5GrLbtg+4GDsVrXQ03bWbuI84jLhfMOC2DrbZNpq5WDJqsjS4",
        "bzohNYs5KblGL7K547cHNWk2ozGdOF06ICwPOTA40zevNIo1hbbnr6w6tDALuQ+6HC6/sbW4qDZnOUiybzpfuA2vSJ3BOJk5RDbk",
        "GUsclZhMnAI8ATz8O/s7NBejF9CUlpbvml6cpRwHG0k5RjxatS+2uB2rHQIexx21lsWduQIAAAAAAAAAAQABAAUAAAAEAAAAqgAA",
        "AEnwHr+zjQC/E+2WO9rwJL6Xsvw+eNMJv5sJGT/meGQ7QBq1viTfIb+uNqc9TMf4vsXODz5T6S4+ow0mv2ctIT/FDtE+gT7PPhZh",
        "P76kQDO/dTYTvV87Oj+uSso9YFmevlxxED8sX4k9DZK2Pp84Mj+XiwM+iwTLvq60Mb/fFEo/1+wNPk8cvD6/jTk/suXaPHsSIT4U",
        "JU4+sfZmPupd7z5GKEA+nr1wPh2tRj+jpy4/2qkOP4GSS7/LKSq/TrhHProjPr+8HhK9apQQP267rz5JO+U+W9yevsclKr6dPEO/",
        "DogsP0rDoL5YAwO9V79KvEb8Bz/k+Qq/64FGP9h88D6AIjg/xns8vwDGA7+7GZs+lhLlPhZtSz+5BLK+pFGGvtjCGL91NNG+EV85",
        "P14apz6iuw6/QcSOvrYSFD/QAy8+7m7EvlQvS76YTq28LEpmv5a4XT8rXNy+fWwIPovGX77HJjg/9DdDviRV27675QG/oPViP+qf",
        "or17iY4+W5K7vu5YE78H4xE/2HARv1neCz6KC9y+MMLBvgYh2z4GSjO/8wpLPic7Tb4Chwa/hNBNP8cupD4tbDE/jh4lv8Kw6D0M",
        "RDa/4Wj8vh3boD5zG80+K2o0PqWsEz9NqEs/+PqDPaXjIT+a+gU/J2T6Pm3vlT58ObE+fJ3QvpzW/L1ifFU/f4MWPp5YIb/D3kG/",
        "GnLDPQXYN77MlBa/dAHVPgXiLD/CBEm+xeNNP1fXC7/tqeG93w+pu0g/FBhUEDNE43zIPvGKPDtCaIk7p60Su1aJibvdToA/3iqA",
        "Pz51fz+OVn8/LI/mOhdd9DpLCZq6u8/SuuPrXbtzu4u7tqCUOz7WYDuhHyk/YraIP41Pq74U0MW+Ugm3OzRWtTsoQMA7RN+4O6Wu",
        "1rokr7i7AAAA8Nkzkb8JHbuuK0TwPwEEAAAAAAAAAIOTk76YBAy/KoSxvh7OMr8EAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "//8A/w==",
        ].joined()))
        #expect(FuzzTarget.checkpoint.run([UInt8](checkpoint)) == nil)
    }

    /// The seeds themselves are valid: they parse, load and restore without a broken invariant.
    @Test(arguments: FuzzTarget.allCases)
    func seedsAreValid(target: FuzzTarget) {
        for seed in target.seeds() { #expect(target.run(seed) == nil) }
    }
}

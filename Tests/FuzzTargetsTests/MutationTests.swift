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

    /// The seeds themselves are valid: they parse, load and restore without a broken invariant.
    @Test(arguments: FuzzTarget.allCases)
    func seedsAreValid(target: FuzzTarget) {
        for seed in target.seeds() { #expect(target.run(seed) == nil) }
    }
}

import ArgumentParser
import Bench

/// `omen bench cleaner`: the cost of `clean_window = "hindsight"` per retraining.
struct BenchCleaner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleaner",
        abstract: "Measure what clean_window = \"hindsight\" adds to one retraining (default model and training).")

    @Option(help: "Window length in points.")
    var window: Int = 2000

    @Option(help: "Repetitions (interleaved); medians of thread CPU time are reported.")
    var repetitions: Int = 5

    @Flag(help: "Print one JSON line of figures instead of text.")
    var json = false

    func validate() throws {
        guard window >= 64, repetitions >= 1 else {
            throw ValidationError("--window must be at least 64 and --repetitions at least 1")
        }
    }

    func run() throws {
        let r = benchmarkCleaner(window: window, repetitions: repetitions)
        if json {
            print(r.json)
        } else {
            print("retraining, window \(r.window): \(fixed(r.msRetrain)) ms with clean_window = episodes, "
                + "\(fixed(r.msRetrainCleaned)) ms with hindsight (\(r.cleaned) steps left out); the hindsight fit "
                + "alone \(fixed(r.msHindsight)) ms = \(fixed(100 * r.costFraction))% of a retraining; "
                + "medians of \(repetitions), thread CPU")
        }
    }

    private func fixed(_ x: Double) -> String {
        x.isFinite ? String((x * 10).rounded() / 10) : "nan"
    }
}

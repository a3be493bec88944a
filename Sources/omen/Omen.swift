import ArgumentParser

@main
struct Omen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "omen",
        abstract: "Anomaly detection for streaming time series with per-series recurrent models.")
}

import ArgumentParser
import Configuration
import Daemon
import Foundation

/// `omen status`: the running daemon's health and counters, read from its `/metrics` endpoint.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running daemon's health and counters (read from its /metrics endpoint).",
        discussion: """
            The address is --metrics, else [metrics] listen of --config, else 127.0.0.1:9464. The same figures are \
            at http://ADDRESS/metrics in the Prometheus text format for a scraper, and http://ADDRESS/health answers \
            200 "ok" while every pipeline thread loops (503 otherwise).
            Exit status: 0 when the daemon answers and is healthy, 1 when it is unhealthy or does not answer.
            """)

    /// Output formats of `omen status`.
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(help: ArgumentHelp("The daemon's metrics address, HOST:PORT.", valueName: "address"))
    var metrics: String?

    @Option(help: ArgumentHelp("Read the address from this configuration file's [metrics] listen.", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Output format: text or json (one object).", valueName: "format"))
    var format: Format = .text

    func run() throws {
        do {
            var listen = MetricsConfig().listen
            if let config { listen = try ConfigLoader.load(path: config).metrics.listen }
            if let metrics { listen = metrics }
            guard !listen.isEmpty else {
                throw CommandError("the metrics listener is off ([metrics] listen = \"\" in \(config ?? "the configuration")); "
                    + "set it to HOST:PORT and restart the daemon")
            }
            guard let address = MetricsConfig.parse(listen) else {
                throw CommandError("--metrics must be HOST:PORT, e.g. 127.0.0.1:9464, not \(listen)")
            }
            let response = try MetricsClient.get(host: address.host, port: address.port, path: "/metrics")
            guard response.status == 200 else {
                throw CommandError("http://\(listen)/metrics answered \(response.status); is that an omen daemon?")
            }
            let samples = try PrometheusText.parse(response.body)
            guard samples.contains(where: { $0.name == "omen_build_info" }) else {
                throw CommandError("http://\(listen)/metrics is not an omen daemon's (no omen_build_info)")
            }
            let health = try MetricsClient.get(host: address.host, port: address.port, path: "/health")
            let report = StatusReport(address: listen, healthy: health.status == 200, samples: samples)
            switch format {
            case .text: print(report.text(now: Date().timeIntervalSince1970), terminator: "")
            case .json: print(report.json(), terminator: "")
            }
            if !report.healthy { throw ExitCode.failure }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw exitWithMessage(error)
        }
    }
}

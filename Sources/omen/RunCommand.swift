import ArgumentParser
import Configuration
import Daemon
import Foundation
import Logging
import Messaging

extension LogFormat: ExpressibleByArgument {}

/// `omen run`: the daemon.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon in the foreground (systemd: Type=notify).",
        discussion: """
            Flags override the configuration file. ENDPOINT is a ZeroMQ endpoint (tcp://127.0.0.1:7001, \
            ipc:///run/omen/in); prefix it with `connect:` to connect instead of binding.
            Signals: SIGTERM/SIGINT drain, checkpoint and exit 0; SIGHUP reloads thresholds and overrides.
            """)

    @Option(name: .long, help: "Configuration file (TOML). Without it the built-in defaults apply.")
    var config: String?

    @Option(name: .customLong("ingest"), help: "Ingest SUB endpoint (repeatable); replaces the file's [[ingest]] list.")
    var ingest: [String] = []

    @Option(name: .long, help: "Alert PUB endpoint; replaces the file's [alerts] endpoints.")
    var alerts: String?

    @Option(name: .long, help: "SQLite database file.")
    var database: String?

    @Option(name: .long, help: ArgumentHelp("Address of the /metrics and /health listener, HOST:PORT; \"\" turns it off. Replaces [metrics] listen.", valueName: "address"))
    var metrics: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Option(name: .long, help: "Log line format on standard error: text, or json (one JSON object per line, for journald and log shippers).")
    var logFormat: LogFormat = .text

    func validate() throws {
        if let metrics, !metrics.isEmpty, MetricsConfig.parse(metrics) == nil {
            throw ValidationError("--metrics must be HOST:PORT (e.g. 127.0.0.1:9464) or \"\" to turn it off, got \(metrics)")
        }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \(logLevel)")
        }
    }

    func run() async throws {
        var configuration: DaemonConfig
        do {
            configuration = try config.map { try ConfigLoader.load(path: $0) } ?? DaemonConfig()
        } catch {
            writeStandardError("omen: configuration error: \(error)")
            throw ExitCode(78) // EX_CONFIG: systemd and operators read it as "fix the configuration".
        }
        if !ingest.isEmpty {
            configuration.ingest = ingest.map { spec in
                let (mode, endpoint) = SocketMode.split(spec)
                var e = IngestEndpointConfig(endpoint: endpoint)
                e.mode = mode
                return e
            }
        }
        if let alerts {
            let (mode, endpoint) = SocketMode.split(alerts)
            configuration.alerts.endpoints = [endpoint]
            configuration.alerts.mode = mode
        }
        if let database { configuration.storage.database = database }
        if let metrics { configuration.metrics.listen = metrics }
        if let logLevel, let level = Logger.Level(rawValue: logLevel) { configuration.logLevel = level }

        do {
            try ConfigLoader.validate(configuration, file: config ?? "command line")
        } catch {
            writeStandardError("omen: configuration error: \(error)")
            throw ExitCode(78)
        }
        let level = ReloadableLogLevel(configuration.logLevel)
        let format = logFormat
        LoggingSystem.bootstrap { label -> any LogHandler in
            switch format {
            case .text: return ReloadableLogHandler(label: label, level: level)
            case .json: return JSONLogHandler(label: label, level: level)
            }
        }
        let logger = Logger(label: "omen")
        do {
            let daemon = try OmenDaemon(config: configuration, configPath: config, logger: logger, logLevel: level)
            try await daemon.run()
        } catch let error as DaemonError {
            logger.critical("\(error.description)")
            writeStandardError("omen: \(error.description)")
            throw ExitCode(error.exitCode)
        }
    }
}

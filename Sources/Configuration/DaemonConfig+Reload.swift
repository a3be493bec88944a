/// The outcome of re-reading the config on SIGHUP: what to run with now, and what only a restart applies.
public struct ConfigReload: Sendable, Equatable {
    /// The running config with the reloadable settings (log level, `[episodes]`, `[[override]]`) taken from the file.
    public var config: DaemonConfig
    /// Tables whose new values differ but need a restart (sockets, storage, threads, models), e.g. `["ingest", "model"]`;
    /// the daemon logs them so an operator is not left wondering why an edit had no effect.
    public var restartRequired: [String]

    public init(config: DaemonConfig, restartRequired: [String]) {
        self.config = config
        self.restartRequired = restartRequired
    }
}

extension DaemonConfig {
    /// Applies the reloadable settings of `new` (already loaded and validated) to this running config.
    public func reloaded(with new: DaemonConfig) -> ConfigReload {
        var applied = self
        applied.logLevel = new.logLevel
        applied.detector.episodes = new.detector.episodes
        applied.overrides = new.overrides

        var restart: [String] = []
        if new.pipeline != pipeline { restart.append("daemon") }
        if new.storage != storage { restart.append("storage") }
        if new.ingest != ingest { restart.append("ingest") }
        if new.kafka != kafka { restart.append("kafka") }
        if new.alerts != alerts { restart.append("alerts") }
        if new.detector.model.cell != detector.model.cell || new.detector.model.hiddenSize != detector.model.hiddenSize
            || new.detector.model.calendar != detector.model.calendar || new.detector.model.seed != detector.model.seed {
            restart.append("model")
        }
        if new.detector.model.training != detector.model.training { restart.append("training") }
        if new.detector.learning != detector.learning { restart.append("learning") }
        if new.detector.scoring != detector.scoring { restart.append("scoring") }
        if new.detector.feedback != detector.feedback { restart.append("feedback") }
        if new.metrics != metrics { restart.append("metrics") }
        // The allowed-clients directory is re-read on every reload; the key and the directory's path are not.
        if new.security != security { restart.append("security") }
        if new.clock != clock { restart.append("clock") }
        return ConfigReload(config: applied, restartRequired: restart)
    }
}

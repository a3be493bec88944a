import Detection
import Recurrent
import Testing
@testable import Configuration

/// Command-line detector settings go through the omen.toml key tables.
@Suite struct DetectorSettingsTests {
    /// Dashes or underscores, qualified or not, a flag alone, and TOML values or bare words all set the field.
    @Test func settingsSetTheirFields() throws {
        let config = try DetectorSettings.apply([
            ("value-weight", "0.25"), ("standardise", nil), ("cell", "gru"), ("calendar", "\"off\""),
            ("seed", "9"), ("training.seed", "7"), ("retrain_interval", "1h30m"), ("drift-span", "12"),
        ], to: DetectorConfig())
        #expect(config.scoring.valueWeight == 0.25)
        #expect(config.scoring.standardise)
        #expect(config.model.cell == .gru)
        #expect(config.model.calendar == .off)
        #expect(config.model.seed == 9)
        #expect(config.model.training.seed == 7)
        #expect(config.learning.retrainInterval == 5400)
        #expect(config.scoring.driftSpan == 12)
    }

    /// A value outside the file's range fails with the file's message, naming the flag.
    @Test func rangesAreTheFiles() {
        #expect {
            _ = try DetectorSettings.apply([("history", "8")], to: DetectorConfig())
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.kind == .outOfRange && error.key == "--history" && error.description.contains("16 and 65535")
        }
    }

    /// An unknown name is refused with the nearest setting; a setting that needs a value does not go without.
    @Test func unknownAndMissing() {
        #expect {
            _ = try DetectorSettings.apply([("value-wieght", "0.3")], to: DetectorConfig())
        } throws: { error in
            (error as? ConfigError)?.kind == .unknownKey && "\(error)".contains("--value-weight")
        }
        #expect(throws: ConfigError.self) { _ = try DetectorSettings.apply([("threshold", nil)], to: DetectorConfig()) }
    }

    /// Every key of the five detector tables is a setting, and cross-key checks apply as for the file.
    @Test func everyKeyIsASetting() throws {
        let count = ModelConfig.configKeys.count + EpisodeConfig.configKeys.count + ScoringConfig.configKeys.count
            + LearningConfig.configKeys.count + TrainingConfig.configKeys.count
        #expect(DetectorSettings.keys.count == count)
        #expect(try DetectorSettings.isFlag("standardise"))
        #expect(try !DetectorSettings.isFlag("scoring.onset-window"))
        #expect(throws: ConfigError.self) { try DetectorSettings.isFlag("nonsense") }
        #expect(throws: ConfigError.self) {
            _ = try DetectorSettings.apply([("warmup-points", "5000")], to: DetectorConfig()) // above window 2000
        }
    }
}

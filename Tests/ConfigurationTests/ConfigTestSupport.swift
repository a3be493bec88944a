import Foundation

/// Paths and temp folders of the config tests.
enum ConfigTestSupport {
    /// The repository root, found from this file's location so tests run from any working directory.
    static func repositoryRoot(_ filePath: String = #filePath) -> URL {
        URL(fileURLWithPath: filePath)
            .deletingLastPathComponent() // ConfigurationTests
            .deletingLastPathComponent() // Tests
            .deletingLastPathComponent()
    }

    static var shippedConfig: URL { repositoryRoot().appendingPathComponent("config/omen.toml") }

    /// A fresh folder under the system temp dir; the caller removes it.
    static func makeTempDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("omen-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

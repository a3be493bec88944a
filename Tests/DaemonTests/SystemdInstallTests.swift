import Configuration
import Foundation
import Testing
@testable import Daemon

@Suite("install script")
struct SystemdInstallTests {
    /// install.sh stages binary, unit and config; the installed config is the default with the database under /var/lib/omen.
    @Test func installStagesFilesWithStateDatabase() throws {
        let root = try ConfigTestSupport.makeTempDirectory("install")
        defer { try? FileManager.default.removeItem(at: root) }
        var env = ProcessInfo.processInfo.environment
        env["DESTDIR"] = root.path
        let result = try ConfigTestSupport.run("/bin/sh", [ConfigTestSupport.installScript.path, "/bin/true", "/opt/omen"],
                                               environment: env)
        #expect(result.status == 0, "install.sh failed: \(result.stderr)")
        #expect(result.stdout.contains("systemctl enable --now omen"))

        let fm = FileManager.default
        #expect(fm.isExecutableFile(atPath: root.appendingPathComponent("opt/omen/bin/omen").path))
        let unit = try String(contentsOf: root.appendingPathComponent("etc/systemd/system/omen.service"), encoding: .utf8)
        #expect(unit.contains("\nExecStart=/opt/omen/bin/omen run --config /etc/omen/omen.toml\n"))

        let installed = root.appendingPathComponent("etc/omen/omen.toml")
        let config = try ConfigLoader.load(path: installed.path)
        var expected = DaemonConfig()
        expected.storage.database = "/var/lib/omen/omen.db"
        #expect(config == expected)
        let mode = try fm.attributesOfItem(atPath: installed.path)[.posixPermissions] as? Int
        #expect(mode == 0o640)
    }

    /// A second install never overwrites an existing (edited) config; the new default goes beside it.
    @Test func installKeepsAnExistingConfig() throws {
        let root = try ConfigTestSupport.makeTempDirectory("install")
        defer { try? FileManager.default.removeItem(at: root) }
        var env = ProcessInfo.processInfo.environment
        env["DESTDIR"] = root.path
        let configDir = root.appendingPathComponent("etc/omen")
        try FileManager.default.createDirectory(at: configDir, withIntermediateDirectories: true)
        let edited = "[daemon]\nshards = 3\n"
        try edited.write(to: configDir.appendingPathComponent("omen.toml"), atomically: true, encoding: .utf8)

        let result = try ConfigTestSupport.run("/bin/sh", [ConfigTestSupport.installScript.path, "/bin/true", "/usr/local"],
                                               environment: env)
        #expect(result.status == 0, "install.sh failed: \(result.stderr)")
        #expect(try String(contentsOf: configDir.appendingPathComponent("omen.toml"), encoding: .utf8) == edited)
        let fresh = try ConfigLoader.load(path: configDir.appendingPathComponent("omen.toml.default").path)
        #expect(fresh.storage.database == "/var/lib/omen/omen.db")
    }

    /// Without root and without DESTDIR, or with a missing binary, install.sh refuses with a message and exit code ≠ 0.
    @Test func installRefusesBadArguments() throws {
        let result = try ConfigTestSupport.run("/bin/sh", [ConfigTestSupport.installScript.path, "/nonexistent/omen", "/usr/local"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("is not an executable"))
        let usage = try ConfigTestSupport.run("/bin/sh", [ConfigTestSupport.installScript.path])
        #expect(usage.status == 2)
    }
}

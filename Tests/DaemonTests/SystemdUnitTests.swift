import Foundation
import Testing

/// The unit's `Key=value` lines, by key (repeated keys keep every value in order).
private func unitDirectives(_ text: String) -> [String: [String]] {
    var out: [String: [String]] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("[") {
        guard let eq = line.firstIndex(of: "=") else { continue }
        out[String(line[..<eq]), default: []].append(String(line[line.index(after: eq)...]))
    }
    return out
}

@Suite("systemd unit")
struct SystemdUnitTests {
    /// `systemd-analyze verify` accepts deploy/omen.service without a single warning on stderr.
    @Test func unitPassesSystemdAnalyzeVerify() throws {
        guard let analyze = ConfigTestSupport.which("systemd-analyze") else {
            print("skipped: systemd-analyze is not installed, so the unit cannot be verified here")
            return
        }
        let dir = try ConfigTestSupport.makeTempDirectory("unit")
        defer { try? FileManager.default.removeItem(at: dir) }
        // verify needs ExecStart to name an existing executable; PID 1 here is not systemd, so check offline.
        let text = try String(contentsOf: ConfigTestSupport.unitFile, encoding: .utf8)
        let rewritten = text.replacingOccurrences(of: "ExecStart=/usr/local/bin/omen ", with: "ExecStart=/bin/true ")
        #expect(rewritten != text, "ExecStart must start with /usr/local/bin/omen")
        let unit = dir.appendingPathComponent("omen.service")
        try rewritten.write(to: unit, atomically: true, encoding: .utf8)
        let result = try ConfigTestSupport.run(analyze, ["verify", unit.path], currentDirectory: dir)
        #expect(result.stderr == "", "systemd-analyze verify complained")
        #expect(result.status == 0)
    }

    /// The unit keeps the contract the daemon relies on: notify with watchdog, reload by SIGHUP, own user, hardening.
    @Test func unitKeepsItsContract() throws {
        let directives = unitDirectives(try String(contentsOf: ConfigTestSupport.unitFile, encoding: .utf8))
        let required: [String: String] = [
            "Type": "notify", "NotifyAccess": "main", "WatchdogSec": "30", "TimeoutStopSec": "30",
            "ExecStart": "/usr/local/bin/omen run --config /etc/omen/omen.toml",
            "ExecReload": "/bin/kill -HUP $MAINPID", "Restart": "on-failure",
            "User": "omen", "Group": "omen", "StateDirectory": "omen", "ConfigurationDirectory": "omen",
            "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
            "NoNewPrivileges": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
            "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
            "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "RestrictNamespaces": "yes",
            "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "CapabilityBoundingSet": "",
        ]
        for (key, value) in required.sorted(by: { $0.key < $1.key }) {
            #expect(directives[key]?.first == value, "\(key)=\(value) is missing from omen.service")
        }
        #expect(directives["SystemCallFilter"]?.first == "@system-service")
    }
}

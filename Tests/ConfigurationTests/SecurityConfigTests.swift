import Testing

@testable import Configuration

@Suite("[security]")
struct SecurityConfigTests {
    /// Loopback, ipc:// and inproc:// are local; *, 0.0.0.0, other addresses and host names are not.
    @Test func localEndpoints() {
        for endpoint in [
            "tcp://127.0.0.1:7001", "tcp://127.1.2.3:1", "tcp://localhost:7001", "tcp://[::1]:7001",
            "ipc:///run/omen/in", "inproc://x", "tcp://10.0.0.1;127.0.0.1:7001",
        ] {
            #expect(EndpointSyntax.isLocal(endpoint), "\(endpoint)")
        }
        for endpoint in [
            "tcp://*:7001", "tcp://0.0.0.0:7001", "tcp://10.0.0.5:7001", "tcp://eth0:7001",
            "tcp://[::]:7001", "tcp://metrics.example:5556", "tcp://127.0.0.1.evil:1", "tcp://1270.0.0.1:1",
        ] {
            #expect(!EndpointSyntax.isLocal(endpoint), "\(endpoint)")
        }
    }

    /// Plain TCP off loopback stops the start, naming the endpoint's line, unless allow_insecure or [security].
    @Test func nonLoopbackNeedsSecurityOrAllowInsecure() throws {
        let exposed = "[alerts]\nendpoints = [\"tcp://*:7002\"]\n"
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(exposed, file: "omen.toml") }
        do {
            _ = try ConfigLoader.parse(exposed, file: "omen.toml")
        } catch {
            #expect(error.line == 2 && error.key == "security" && error.reason.contains("allow_insecure"))
        }
        #expect(
            try ConfigLoader.parse(exposed + "[security]\nallow_insecure = true\n", file: "omen.toml").security
                .allowInsecure)
        let secured = try ConfigLoader.parse(
            exposed
                + "[security]\nsecret_key = \"/etc/omen/server.cert_secret\"\nallowed_clients = \"/etc/omen/clients\"\n",
            file: "omen.toml")
        #expect(secured.security.isEnabled && secured.security.allowedClients == "/etc/omen/clients")
    }

    /// secret_key and allowed_clients go together; changing [security] needs a restart.
    @Test func keysGoTogether() throws {
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[security]\nsecret_key = \"/k\"\n", file: "f") }
        #expect(throws: ConfigError.self) {
            try ConfigLoader.parse("[security]\nallowed_clients = \"/d\"\n", file: "f")
        }
        var new = DaemonConfig()
        new.security.allowInsecure = true
        #expect(DaemonConfig().reloaded(with: new).restartRequired == ["security"])
    }
}

import Daemon
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import History
import Messaging
import Testing

/// `GET path` over a plain TCP socket (HTTP/1.1, Connection: close): the status code and the body.
func plainHTTPGet(port: Int, path: String) throws -> (status: Int, headers: String, body: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket() failed") }
    defer { close(fd) }
    var tv = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else { throw TestFailure("connect to 127.0.0.1:\(port) failed: errno \(errno)") }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
    guard send(fd, request, request.count, 0) == request.count else { throw TestFailure("send failed") }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    for _ in 0..<10_000 {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        response += buffer[0..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { throw TestFailure("no HTTP header end in: \(text.prefix(200))") }
    let headers = String(text[..<split.lowerBound])
    let statusLine = headers.split(separator: "\r\n").first ?? ""
    let parts = statusLine.split(separator: " ")
    guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
        throw TestFailure("bad status line: \(statusLine)")
    }
    return (status, headers, String(text[split.upperBound...]))
}

/// Checks exposition text line by line against the Prometheus text format (0.0.4), independently of the
/// daemon's own reader: valid names, quoted label values, a float value, and a TYPE line before every family.
/// Returns the problems found (empty when the text is valid) and the samples by `name{labels}`.
func checkExposition(_ text: String) -> (problems: [String], samples: [String: Double]) {
    var problems: [String] = []
    var samples: [String: Double] = [:]
    var typed: Set<String> = []
    let name = "[a-zA-Z_:][a-zA-Z0-9_:]*"
    let sampleLine = try? NSRegularExpression(pattern:
        "^(\(name))(\\{(?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:\\\\[\\\\\"n]|[^\"\\\\\\n])*\",?)*\\})? (\\S+)( -?[0-9]+)?$")
    let typeLine = try? NSRegularExpression(pattern: "^# TYPE (\(name)) (counter|gauge|histogram|summary|untyped)$")
    for (i, line) in text.split(separator: "\n").enumerated() {
        let s = String(line)
        let range = NSRange(s.startIndex..., in: s)
        if s.hasPrefix("#") {
            if s.hasPrefix("# TYPE") {
                guard let m = typeLine?.firstMatch(in: s, range: range), let r = Range(m.range(at: 1), in: s) else {
                    problems.append("line \(i + 1): bad TYPE line: \(s)")
                    continue
                }
                typed.insert(String(s[r]))
            }
            continue
        }
        guard let m = sampleLine?.firstMatch(in: s, range: range), let nameRange = Range(m.range(at: 1), in: s),
              let valueRange = Range(m.range(at: 3), in: s) else {
            problems.append("line \(i + 1): not a sample: \(s)")
            continue
        }
        let metric = String(s[nameRange])
        let valueText = String(s[valueRange])
        guard let value = Double(valueText) ?? ["+Inf": .infinity, "-Inf": -.infinity, "NaN": .nan][valueText] else {
            problems.append("line \(i + 1): bad value \(valueText)")
            continue
        }
        let family = ["_bucket", "_sum", "_count"].reduce(metric) { base, suffix in
            base.hasSuffix(suffix) && typed.contains(String(base.dropLast(suffix.count))) ? String(base.dropLast(suffix.count)) : base
        }
        if !typed.contains(family) { problems.append("line \(i + 1): \(metric) has no TYPE line before it") }
        let labels = Range(m.range(at: 2), in: s).map { String(s[$0]) } ?? ""
        samples[metric + labels] = value
    }
    return (problems, samples)
}

/// Graphite lines of the operator test: two quiet series and a spiky one, each with one spike at its own round.
private func operatorLines(round i: Int, spikes: [String: Int]) -> [String] {
    let ts = 1_700_000_000 + i * 60
    let noise = Double((i &* 2_654_435_761) % 1000) / 1000 - 0.5
    func bump(_ key: String) -> Double { spikes[key] == i ? 80 : 0 }
    return [
        "op.quiet1 \(20 + 5 * sin(Double(i) * 2 * .pi / 50) + noise * 0.5 + bump("op.quiet1")) \(ts)",
        "op.quiet2 \(100 + noise + bump("op.quiet2")) \(ts)",
        "op.spiky \(10 + 3 * sin(Double(i) * 2 * .pi / 40) + noise * 0.3 + bump("op.spiky")) \(ts)",
    ]
}

private func publish(endpoint: String, rounds: Range<Int>, spikes: [String: Int]) throws {
    let payloads = batchedPayloads(rounds) { i in
        operatorLines(round: i, spikes: spikes) + (i % 100 == 0 ? ["not a metric at all"] : [])
    }
    try publish(payloads, to: endpoint, pauseEvery: 1)
}

@Suite(.serialized)
struct OperatorEndToEndTests {
    /// The real daemon: /metrics over plain HTTP parses as Prometheus text and its counters move; a mute made with
    /// `omen mute` reaches the running daemon and keeps its series from opening episodes; `omen label` is stored,
    /// listed, filtered and applied; `omen show` and `omen plot` describe the episode; `omen status` summarises;
    /// JSON log lines carry the version.
    @Test func metricsMuteLabelShowPlotAgainstTheRunningDaemon() throws {
        let dir = try makeTempDir("operator")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ingest = "tcp://127.0.0.1:\(try freePort())"
        let alerts = "tcp://127.0.0.1:\(try freePort())"
        let metricsPort = try freePort()
        let db = dir.appendingPathComponent("omen.db").path
        let configURL = dir.appendingPathComponent("omen.toml")
        try testConfig(threshold: 0.5).write(to: configURL, atomically: true, encoding: .utf8)
        let daemon = try OmenProcess(
            arguments: ["run", "--config", configURL.path, "--ingest", ingest, "--alerts", alerts, "--database", db,
                        "--metrics", "127.0.0.1:\(metricsPort)", "--log-format", "json"], dir: dir)
        defer { _ = daemon.stop(signal: SIGKILL, timeout: 5) }

        // The listener answers once the daemon is up; the first scrape parses.
        var first: (status: Int, headers: String, body: String)?
        #expect(eventually(timeout: 30) {
            first = try? plainHTTPGet(port: metricsPort, path: "/metrics")
            return first?.status == 200
        }, "no /metrics; stderr: \(daemon.stderr)")
        let firstBody = try #require(first?.body)
        #expect(first?.headers.lowercased().contains("content-type: text/plain") == true)
        let firstCheck = checkExposition(firstBody)
        #expect(firstCheck.problems.isEmpty, "\(firstCheck.problems)")
        for metric in ["omen_points_received_total", "omen_points_scored_total", "omen_episodes_opened_total",
                       "omen_episodes_closed_total", "omen_training_backlog", "omen_ingest_stalls_total",
                       "omen_checkpoint_bytes_total", "omen_resident_memory_bytes",
                       "omen_points_rejected_total{reason=\"malformed\"}", "omen_series{state=\"trained\"}",
                       "omen_trainings_total{outcome=\"accepted\"}"] {
            #expect(firstCheck.samples[metric] != nil, "\(metric) missing from /metrics")
        }
        #expect((try? plainHTTPGet(port: metricsPort, path: "/health"))?.status == 200)
        #expect((try? plainHTTPGet(port: metricsPort, path: "/nope"))?.status == 404)

        // The start line is JSON and carries the version.
        let startLine = daemon.stderr.split(separator: "\n").first { $0.contains("\"omen started\"") }.map(String.init)
        let start = try #require(startLine.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] },
                                 "no JSON start line: \(daemon.stderr)")
        #expect(start["version"] as? String == OmenVersion.string)
        #expect(start["level"] as? String == "info")

        // Mute the quiet series before their spike (the daemon created the database before it listened).
        let muted = try runOmen(["mute", "op.quiet*", "--for", "1h", "--reason", "maintenance", "--database", db])
        #expect(muted.status == 0, "omen mute failed: \(muted.stderr)")
        let muteID = try #require(muted.stdout.split(separator: " ").dropFirst().first.map { Int($0.dropLast()) } ?? nil,
                                  "no mute id in \(muted.stdout)")
        let listed = try runOmen(["mute", "--list", "--format", "json", "--database", db])
        #expect(listed.stdout.contains("\"pattern\":\"op.quiet*\"") && listed.stdout.contains("\"state\":\"active\""),
                "\(listed.stdout) \(listed.stderr)")

        let spikes = ["op.quiet1": 650, "op.spiky": 700]
        try publish(endpoint: ingest, rounds: 0..<20, spikes: spikes)
        #expect(eventually(timeout: 30) {
            let sample = (try? plainHTTPGet(port: metricsPort, path: "/metrics")).map { checkExposition($0.body).samples }
            return (sample?["omen_series_muted"] ?? 0) == 2
        }, "the running daemon did not apply the mute; stderr: \(daemon.stderr)")
        try publish(endpoint: ingest, rounds: 20..<600, spikes: spikes)
        let store = try Store.openReadOnly(path: db)
        #expect(eventually(timeout: 90) {
            ((try? store.series()) ?? []).filter { $0.series.hasPrefix("op.") && $0.state == .trained }.count == 3
        }, "models did not train: \(String(describing: try? store.series()))")
        try publish(endpoint: ingest, rounds: 600..<900, spikes: spikes)
        #expect(eventually(timeout: 60) {
            ((try? store.series()) ?? []).filter { $0.series.hasPrefix("op.") }.allSatisfy { $0.points == 900 }
        }, "not every point was processed: \(String(describing: try? store.series()))")

        // Counters moved, and the text still parses.
        let second = try plainHTTPGet(port: metricsPort, path: "/metrics")
        let secondCheck = checkExposition(second.body)
        #expect(secondCheck.problems.isEmpty, "\(secondCheck.problems)")
        #expect((secondCheck.samples["omen_points_received_total"] ?? 0) >= 2700)
        #expect((secondCheck.samples["omen_points_scored_total"] ?? 0) >= 2700)
        #expect((secondCheck.samples["omen_points_rejected_total{reason=\"malformed\"}"] ?? 0) >= 9)
        // The shards count their series' states once a second: read the gauge until it has caught up.
        #expect(eventually(timeout: 10) {
            let sample = (try? plainHTTPGet(port: metricsPort, path: "/metrics")).map { checkExposition($0.body).samples }
            return (sample?["omen_series{state=\"trained\"}"] ?? 0) == 3
        }, "trained series gauge: \(secondCheck.samples["omen_series{state=\"trained\"}"] ?? -1)")
        #expect((secondCheck.samples["omen_messages_received_total"] ?? 0)
                > (firstCheck.samples["omen_messages_received_total"] ?? 0))
        let metricsFile = dir.appendingPathComponent("metrics.txt")
        try second.body.write(to: metricsFile, atomically: true, encoding: .utf8)
        if let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first(where: FileManager.default.isExecutableFile) {
            let checked = try ConfigTestSupport.run("/bin/sh", ["-c", "\(promtool) check metrics < \(metricsFile.path)"])
            #expect(checked.status == 0, "promtool check metrics: \(checked.stdout) \(checked.stderr)")
        }

        // The muted series opened nothing; the spiky one did.
        #expect(try store.anomalies(AnomalyQuery(seriesGlob: "op.quiet*", limit: 100)).isEmpty)
        var spike: AnomalyRecord?
        #expect(eventually(timeout: 30) {
            spike = ((try? store.anomalies(AnomalyQuery(seriesGlob: "op.spiky", limit: 10))) ?? []).first {
                $0.peakAt >= Double(1_700_000_000 + 700 * 60) && $0.peakAt <= Double(1_700_000_000 + 703 * 60)
            }
            return spike != nil
        }, "no episode at the spike: \(String(describing: try? store.anomalies(AnomalyQuery(limit: 50))))")
        let episode = try #require(spike)
        #expect(eventually(timeout: 10) {
            ((try? plainHTTPGet(port: metricsPort, path: "/metrics")).map { checkExposition($0.body).samples["omen_episodes_opened_total"] ?? 0 } ?? 0) >= 1
        })
        // The spike is above everything op.spiky had shown: counted by its cause.
        let exposition = try plainHTTPGet(port: metricsPort, path: "/metrics").body
        #expect((checkExposition(exposition).samples["omen_episodes_opened_by_cause_total{cause=\"new-high\"}"] ?? 0) >= 1,
                "\(exposition.split(separator: "\n").filter { $0.contains("by_cause") })")

        // Label it; list and filter by label; the daemon picks the label up.
        let labelled = try runOmen(["label", String(episode.id), "--not-anomaly", "--note", "deploy", "--database", db])
        #expect(labelled.status == 0 && labelled.stdout.contains("not_anomaly"), "\(labelled.stdout) \(labelled.stderr)")
        let byLabel = try runOmen(["anomalies", "--label", "not_anomaly", "--format", "json", "--database", db])
        #expect(byLabel.stdout.contains("\"id\":\(episode.id)") && byLabel.stdout.contains("\"label\":\"not_anomaly\""),
                "\(byLabel.stdout) \(byLabel.stderr)")
        let unlabelled = try runOmen(["anomalies", "--label", "none", "--format", "json", "--database", db])
        #expect(!unlabelled.stdout.contains("\"id\":\(episode.id),"), "\(unlabelled.stdout)")
        #expect(try runOmen(["label", "999999", "--confirmed", "--database", db]).status == 1)
        #expect(eventually(timeout: 15) { daemon.stderr.contains("\"msg\":\"labels applied\"") },
                "the daemon did not pick up the label: \(daemon.stderr.suffix(2000))")

        // Show and plot it.
        let shown = try runOmen(["show", String(episode.id), "--database", db])
        #expect(shown.status == 0, "\(shown.stderr)")
        for needle in ["op.spiky", "predicted", "expected", "score", "model", "hindsight", "not_anomaly", "deploy"] {
            #expect(shown.stdout.contains(needle), "show lacks \(needle): \(shown.stdout)")
        }
        let shownJSON = try runOmen(["show", String(episode.id), "--format", "json", "--database", db])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(shownJSON.stdout.utf8)) as? [String: Any])
        #expect(object["label"] as? String == "not_anomaly" && (object["id"] as? Int).map(Int64.init) == episode.id)
        let svgURL = dir.appendingPathComponent("episode.svg")
        #expect(eventually(timeout: 20) {
            (try? runOmen(["plot", String(episode.id), "--output", svgURL.path, "--config", configURL.path,
                           "--database", db]))?.status == 0
        }, "omen plot failed: \(String(describing: try? runOmen(["plot", String(episode.id), "--output", svgURL.path, "--config", configURL.path, "--database", db])))")
        let svg = try String(contentsOf: svgURL, encoding: .utf8)
        #expect(XMLParser(data: Data(svg.utf8)).parse(), "episode.svg is not well-formed XML")
        #expect(svg.contains("id=\"episode-\(episode.id)\""), "the episode is not marked")
        #expect(svg.contains("class=\"score\""), "no score trace")

        // Status reads the same endpoint.
        let status = try runOmen(["status", "--metrics", "127.0.0.1:\(metricsPort)"])
        #expect(status.status == 0 && status.stdout.contains("healthy") && status.stdout.contains(OmenVersion.string),
                "\(status.stdout) \(status.stderr)")
        let statusJSON = try runOmen(["status", "--metrics", "127.0.0.1:\(metricsPort)", "--format", "json"])
        let statusObject = try JSONSerialization.jsonObject(with: Data(statusJSON.stdout.utf8)) as? [String: Any]
        #expect((statusObject?["points_scored"] as? Int ?? 0) >= 2700, "\(statusJSON.stdout)")
        #expect(status.stdout.contains("new-high"), "no cause in the episodes line: \(status.stdout)")
        let byCause = statusObject?["episodes_opened_by_cause"] as? [String: Any]
        #expect((byCause?["new-high"] as? Int ?? 0) >= 1 && byCause?["frozen"] != nil, "\(statusJSON.stdout)")

        // Unmute: the daemon lets the series alert again.
        let unmuted = try runOmen(["unmute", String(muteID), "--database", db])
        #expect(unmuted.status == 0 && unmuted.stdout.contains("lifted"), "\(unmuted.stdout) \(unmuted.stderr)")
        #expect(eventually(timeout: 15) {
            let sample = (try? plainHTTPGet(port: metricsPort, path: "/metrics")).map { checkExposition($0.body).samples }
            return sample?["omen_series_muted"] == 0
        }, "the running daemon did not lift the mute")

        #expect(daemon.stop(signal: SIGTERM, timeout: 60) == 0, "stderr: \(daemon.stderr.suffix(2000))")
        #expect((try? plainHTTPGet(port: metricsPort, path: "/metrics")) == nil, "the listener outlived the daemon")
    }

    /// `omen publish` says when nothing is connected, and sends nothing.
    @Test func publishSaysWhenNothingIsConnected() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let dir = try makeTempDir("publish")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("points.txt")
        try "a.b 1 1700000000\n".write(to: file, atomically: true, encoding: .utf8)
        let result = try runOmen(["publish", "--endpoint", endpoint, "--wait", "0.5", file.path], timeout: 30)
        #expect(result.status == 1)
        #expect(result.stderr.contains("nothing is connected"), "\(result.stderr)")
    }
}

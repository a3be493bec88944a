import Detection
import Testing
@testable import Replay

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A small NAB-style CSV: a daily sine with deterministic noise and one spike.
func generatedCSV(rows: Int = 1300) -> String {
    var state: UInt64 = 12345
    var out = "timestamp,value\n"
    let start = 1_396_310_400 // 2014-04-01 00:00:00 UTC
    for i in 0..<rows {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let noise = Double(state >> 11) / Double(1 << 53) - 0.5
        let phase: Double = 2 * Double.pi * Double(i) / 288
        var v: Double = 50 + 10 * sin(phase) + noise
        if i == 1100 { v += 40 }
        out += "\(Timestamps.format(Double(start + i * 300))):00,\(v)\n"
    }
    return out
}

struct ReplayRunnerTests {
    /// Two replays of the same CSV with the same configuration give byte-identical output, one row per input row.
    @Test func replayIsDeterministic() throws {
        let rows = try CSVSeriesReader().parse(text: generatedCSV())
        var config = DetectorConfig()
        config.learning.warmupPoints = 300
        let runner = ReplayRunner(config: config, series: "generated.csv")
        let a = runner.run(rows)
        let b = runner.run(rows)
        let csv = a.csv()
        #expect(csv == b.csv())
        let lines = csv.split(separator: "\n")
        #expect(lines.count == rows.count + 1)
        #expect(lines.first == "timestamp,value,prediction,lower,upper,anomaly_score,flag,cause")
        #expect(lines[1].hasPrefix("2014-04-01 00:00:00,"))
        #expect(a.rows.allSatisfy { $0.score >= 0 && $0.score < 1 })
        #expect(a.summary.retrainsAccepted + a.summary.retrainsRejected >= 1)
        #expect(a.rows.contains { $0.retrained })
        #expect(a.summary.paragraph.contains("Replayed \(rows.count) points"))
        // The spike at row 1100 (+40 on a sine of amplitude 10) opens an episode as a new high, and the summary says so.
        #expect(a.rows[1100].cause == .newHigh && a.rows[1100].score > 0)
        #expect((a.summary.episodesByCause[.newHigh] ?? 0) >= 1)
        #expect(a.summary.paragraph.contains("new-high"), "\(a.summary.paragraph)")
    }

    /// `--terms` adds the scorer's terms as columns without changing a score, and the terms average to the
    /// combined surprise the score is made of, by the weights the configuration names (what scripts/nab-terms.py
    /// recomputes offline).
    @Test func termsAreRecordedAndRecombine() throws {
        let rows = try CSVSeriesReader().parse(text: generatedCSV())
        let config = DetectorConfig()
        let plain = ReplayRunner(config: config, series: "generated.csv").run(rows)
        let withTerms = ReplayRunner(config: config, series: "generated.csv", terms: true).run(rows)
        #expect(plain.rows.map(\.score) == withTerms.rows.map(\.score))
        #expect(plain.rows.allSatisfy { $0.terms == nil })
        let lines = withTerms.csv().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "timestamp,value,prediction,lower,upper,anomaly_score,flag,cause," + ReplayResult.termColumns)
        #expect(lines[1].split(separator: ",", omittingEmptySubsequences: false).count == 18)
        let sc = config.scoring
        var predicted = 0
        for row in withTerms.rows {
            let t = try #require(row.terms)
            var s = t.value
            if row.prediction != nil {
                predicted += 1
                if let c = t.context { s = (1 - sc.contextWeight) * s + sc.contextWeight * c }
                var stage = t.residual ?? 0
                if let r = t.residual, let h = t.head { stage = (1 - sc.gaussianWeight) * r + sc.gaussianWeight * h }
                if let c = t.change { stage = (1 - sc.changeWeight) * stage + sc.changeWeight * c }
                if t.flat { stage = 0 }
                s = (1 - sc.valueWeight) * stage + sc.valueWeight * s
            }
            s += sc.shiftWeight * (t.shift ?? 0)
            #expect(abs(min(max(s, 0), 300) - t.combined) < 1e-12, "row \(row.text)")
            #expect(abs(t.log10PointsPerDay - 2.459) < 0.01 || t.log10PointsPerDay == 0) // 5-minute points
        }
        #expect(predicted > 900)
        #expect(withTerms.rows.contains { ($0.terms?.head ?? 0) > 0 && ($0.terms?.context ?? 0) > 0 })
        #expect(withTerms.rows.contains { ($0.terms?.shift ?? 0) > 1 }, "the sustained shift is recorded")
    }

    /// Rows whose timestamps do not increase are echoed with score 0 and counted, never dropped.
    @Test func outOfOrderRowsAreKeptAndCounted() throws {
        let rows = try CSVSeriesReader().parse(text: "timestamp,value\n10,1\n20,2\n15,3\n30,4\n")
        let result = ReplayRunner(config: DetectorConfig(), series: "s").run(rows)
        #expect(result.rows.count == 4)
        #expect(result.summary.rejectedPoints == 1)
        #expect(result.rows[2].text == "15" && result.rows[2].score == 0)
    }
}

struct CSVSeriesReaderTests {
    /// NAB timestamps are UTC and echoed exactly as written.
    @Test func nabLayout() throws {
        let rows = try CSVSeriesReader().parse(text: "timestamp,value\n2014-04-01 00:00:00,20.5\n2014-04-01 00:05:00,-3\n")
        #expect(rows.count == 2)
        #expect(rows[0].timestamp == 1_396_310_400)
        #expect(rows[1].timestamp == 1_396_310_700)
        #expect(rows[0].text == "2014-04-01 00:00:00")
        #expect(rows[1].value == -3)
    }

    /// ISO-8601 (Z, offsets, fractions), bare dates and Unix seconds all parse to the same instant.
    @Test func timestampFormats() {
        #expect(Timestamps.parse("2014-04-01T00:00:00Z") == 1_396_310_400)
        #expect(Timestamps.parse("2014-04-01T02:00:00+02:00") == 1_396_310_400)
        #expect(Timestamps.parse("2014-03-31T19:00:00-0500") == 1_396_310_400)
        #expect(Timestamps.parse("2014-04-01 00:00:00.250") == 1_396_310_400.25)
        #expect(Timestamps.parse("2014-04-01") == 1_396_310_400)
        #expect(Timestamps.parse("1396310400") == 1_396_310_400)
        #expect(Timestamps.parse("1396310400.5") == 1_396_310_400.5)
        #expect(Timestamps.parse("2000-02-29 12:00") == 951_825_600)
        #expect(Timestamps.parse("yesterday") == nil)
        #expect(Timestamps.parse("2014-13-01 00:00:00") == nil)
        #expect(Timestamps.parse("2014-04-01 00:00:00 junk") == nil)
        #expect(Timestamps.format(1_396_310_700) == "2014-04-01 00:05")
    }

    /// CRLF line ends, a byte-order mark, quoted fields, blank lines and a missing final newline are tolerated.
    @Test func tolerantLayout() throws {
        let text = "\u{FEFF}\"timestamp\",\"value\"\r\n\r\n\"2014-04-01 00:00:00\",\"1.5\"\r\n2014-04-01 00:05:00, 2 \r\n\n2014-04-01 00:10:00,3"
        let rows = try CSVSeriesReader().parse(text: text)
        #expect(rows.map(\.value) == [1.5, 2, 3])
        #expect(rows[0].text == "2014-04-01 00:00:00")
    }

    /// A named value column is picked by name (case-insensitive); the timestamp column is found by name.
    @Test func namedColumn() throws {
        let text = "host,cpu,Time,mem\na,1,100,7\na,2,200,8\n"
        let rows = try CSVSeriesReader(column: "MEM").parse(text: text)
        #expect(rows.map(\.value) == [7, 8])
        #expect(rows.map(\.timestamp) == [100, 200])
        #expect(throws: ReplayError.self) { try CSVSeriesReader(column: "disk").parse(text: text) }
    }

    /// Errors name the line and say what to do.
    @Test func errorsNameTheLine() {
        do {
            _ = try CSVSeriesReader().parse(text: "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,abc\n", name: "f.csv")
            Issue.record("a bad value must be rejected")
        } catch {
            #expect(error == .badValue(path: "f.csv", line: 3, text: "abc"))
            #expect(error.description.contains("f.csv:3"))
        }
        #expect(throws: ReplayError.self) { try CSVSeriesReader().parse(text: "timestamp,value\nnot-a-time,1\n") }
        #expect(throws: ReplayError.self) { try CSVSeriesReader().parse(text: "timestamp,value\n10,1,2\n") }
        #expect(throws: ReplayError.self) { try CSVSeriesReader().parse(text: "") }
        #expect(throws: ReplayError.self) { try CSVSeriesReader().read(path: "/nonexistent/x.csv") }
    }
}

/// Collects element names while parsing, to check structure.
final class ElementCounter: NSObject, XMLParserDelegate {
    var names: [String: Int] = [:]
    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        names[elementName, default: 0] += 1
    }
}

struct SVGPlotTests {
    /// The plot is well-formed XML with the series, prediction, band, episode points, retrains and axis labels.
    @Test func plotIsWellFormed() throws {
        let rows = try CSVSeriesReader().parse(text: generatedCSV(rows: 3000))
        var config = DetectorConfig()
        config.episodes.threshold = 0.3
        var result = ReplayRunner(config: config, series: "gen").run(rows)
        // Make sure an episode point is drawn even if the placeholder model flags nothing.
        result.rows[1100].flag = true
        let svg = SVGPlot(title: "gen <&> \"test\"").render(result.rows)
        let parser = XMLParser(data: Data(svg.utf8))
        let counter = ElementCounter()
        parser.delegate = counter
        #expect(parser.parse(), "SVG is not well-formed XML: \(String(describing: parser.parserError))")
        #expect(counter.names["svg"] == 1)
        #expect((counter.names["polyline"] ?? 0) >= 2)
        #expect((counter.names["polygon"] ?? 0) >= 1)
        #expect((counter.names["circle"] ?? 0) >= 2)
        #expect((counter.names["text"] ?? 0) >= 10)
        #expect(svg.contains("2014-04-01"))
        #expect(svg.count < 400_000)
    }

    /// An empty replay still renders a valid document.
    @Test func emptyPlot() {
        let svg = SVGPlot(title: "empty").render([])
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse())
    }
}

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Detection
@testable import Replay

struct EpisodePlotTests {
    private func rows(_ n: Int, spikeAt: Int) -> [ReplayRow] {
        (0..<n).map { i in
            let v = 10 + sin(Double(i) / 30) + (i == spikeAt ? 25 : 0)
            return ReplayRow(text: "", timestamp: 1_700_000_000 + Double(i) * 60, value: v, prediction: v - 0.1,
                             lower: v - 2, upper: v + 2, score: i == spikeAt ? 0.9 : 0.05, flag: i == spikeAt,
                             retrained: false)
        }
    }

    /// An episode plot is valid XML with the episode's span and peak marked and a score trace with the threshold.
    @Test func episodeIsMarkedWithScoreTrace() throws {
        var plot = SVGPlot(title: "a <b> & 'c'")
        plot.threshold = 0.35
        plot.subtitle = "stored window"
        plot.episode = EpisodeMark(id: 42, openedAt: 1_700_000_000 + 500 * 60, closedAt: 1_700_000_000 + 510 * 60,
                                   peakAt: 1_700_000_000 + 500 * 60, value: 35, predicted: 10, lower: 8, upper: 12,
                                   score: 0.9)
        let svg = plot.render(rows(1000, spikeAt: 500))
        let parser = XMLParser(data: Data(svg.utf8))
        let counter = ElementCounter()
        parser.delegate = counter
        #expect(parser.parse(), "not well-formed: \(String(describing: parser.parserError))")
        #expect(svg.contains("id=\"episode-42\""))
        #expect(svg.contains("class=\"episode-peak\""))
        #expect(svg.contains("class=\"score\""))
        #expect(svg.contains("class=\"threshold\""))
        #expect(svg.contains("episode 42: peak 35"))
    }

    /// At 10,000 points the series is one min/max polygon and one mean line, not 20,000 vertices of zig-zag.
    @Test func longSeriesIsMinMaxPerColumn() throws {
        let svg = SVGPlot(title: "long").render(rows(10_000, spikeAt: 7_000))
        #expect(XMLParser(data: Data(svg.utf8)).parse())
        let minmax = try #require(svg.split(separator: "\n").first { $0.contains("class=\"minmax\"") })
        // Two vertices per pixel column at most (top edge and bottom edge).
        let vertices = minmax.split(separator: " ").filter { $0.contains(",") }.count
        #expect(vertices <= 2 * 1110)
        // The spike still reaches its height: the envelope's top is the plot's top margin area.
        #expect(svg.count < 400_000)
    }

    /// --from/--to keep the rows inside the range.
    @Test func cropKeepsTheRange() {
        let all = rows(100, spikeAt: 50)
        let cropped = SVGPlot.crop(all, from: all[10].timestamp, to: all[19].timestamp)
        #expect(cropped.count == 10 && cropped.first == all[10] && cropped.last == all[19])
        #expect(SVGPlot.crop(all, from: nil, to: nil).count == 100)
    }
}

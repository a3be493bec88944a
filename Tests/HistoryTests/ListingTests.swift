import Detection
import Foundation
import Testing
@testable import History

@Suite struct ListingTests {
    let open = AnomalyRecord(id: 7, episode: Episode(
        series: "cpu,host=web01 usage_user", number: 2, openedAt: 1_795_773_600, closedAt: nil,
        peakAt: 1_795_773_660, peakScore: 0.9987, value: 95.5, predicted: 12.25, lower: 8, upper: 16.5,
        threshold: 0.99, points: 4, modelVersion: 3, closeReason: nil))
    let closed = AnomalyRecord(id: 3, episode: Episode(
        series: "say \"hi\"\n", number: 1, openedAt: 1_795_770_000, closedAt: 1_795_770_100,
        peakAt: 1_795_770_050, peakScore: 0.995, value: .nan, predicted: 1e-5, lower: -.infinity, upper: 2,
        threshold: 0.99, points: 10, modelVersion: 1, closeReason: "recovered"))

    /// The JSON listing is one array that decodes back to the same records, with null for open and NaN.
    @Test func anomaliesJSONRoundTrips() throws {
        let text = Listing.anomalies([open, closed], format: .json)
        let decoded = try JSONDecoder().decode([AnomalyRecord].self, from: Data(text.utf8))
        #expect(decoded.count == 2)
        #expect(decoded[0] == open)
        #expect(decoded[1].closedAt == closed.closedAt)
        #expect(decoded[1].series == closed.series)
        #expect(decoded[1].value.isNaN)
        #expect(decoded[1].lower.isNaN)
        #expect(decoded[1].predicted == 1e-5)
        #expect(text.contains("\"closed_at\":null"))
        #expect(text.contains("\"model_version\":3"))
        #expect(Listing.anomalies([], format: .json) == "[]\n")
    }

    /// Encoding with JSONEncoder gives the same snake_case keys as the listing.
    @Test func codableUsesSnakeCaseKeys() throws {
        let data = try JSONEncoder().encode(open)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == Set(Listing.anomalyFields))
        let series = SeriesRecord(series: "a", firstSeen: 1, lastSeen: 2, points: 3, state: .trained,
                                  modelVersion: 4, lastScore: nil, lastRetrain: 1.5)
        let seriesObject = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(series)) as? [String: Any])
        #expect(Set(seriesObject.keys) == Set(Listing.seriesFields))
        #expect(seriesObject["state"] as? String == "trained")
        #expect(try JSONDecoder().decode(SeriesRecord.self, from: JSONEncoder().encode(series)) == series)
    }

    /// CSV has a header, quotes keys with commas or quotes, and leaves missing values empty.
    @Test func anomaliesCSVQuotesAndBlanks() {
        let lines = Listing.anomalies([open, closed], format: .csv)
            .split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == Substring(Listing.anomalyFields.joined(separator: ",")))
        #expect(lines[1].hasPrefix("7,\"cpu,host=web01 usage_user\",2,1795773600.0,,"))
        #expect(lines[2].hasPrefix("3,\"say \"\"hi\"\""))
        #expect(Listing.anomalies([], format: .csv) == Listing.anomalyFields.joined(separator: ",") + "\n")
    }

    /// The table aligns every column under its header and shows ISO times and "open".
    @Test func anomaliesTableAligns() throws {
        let text = Listing.anomalies([open], format: .table)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        let header = lines[0]
        let row = lines[1]
        // Each text column starts where its header starts, after a blank.
        let headerChars = Array(header)
        let rowChars = Array(row)
        for column in ["SERIES", "OPENED", "CLOSED", "PEAK AT", "EXPECTED"] {
            let range = try #require(header.range(of: column))
            let offset = header.distance(from: header.startIndex, to: range.lowerBound)
            try #require(rowChars.count > offset)
            #expect(headerChars[offset - 1] == " ")
            #expect(rowChars[offset - 1] == " ", "a cell runs into the \(column) column")
            #expect(rowChars[offset] != " ", "the \(column) cell starts under its header")
        }
        // Numbers are right-aligned: the score ends where its header ends.
        let score = try #require(header.range(of: "SCORE"))
        let scoreEnd = header.distance(from: header.startIndex, to: score.upperBound)
        #expect(rowChars[scoreEnd - 1] != " ")
        #expect(rowChars[scoreEnd] == " ")
        #expect(row.contains("2026-11-27T10:00:00Z"))
        #expect(row.contains("open"))
        #expect(row.contains("0.9987"))
        #expect(row.contains("8..16.5"))
        #expect(Listing.anomalies([], format: .table) == "no anomalies match\n")
    }

    /// The series listing carries series, state, model version and last seen in every format.
    @Test func seriesListings() throws {
        let records = [
            SeriesRecord(series: "web01.cpu", firstSeen: 1, lastSeen: 1_795_773_600, points: 1200, state: .trained,
                         modelVersion: 2, lastScore: 0.125, lastRetrain: 1_795_773_000),
            SeriesRecord(series: "new", firstSeen: 5, lastSeen: 6, points: 2, state: .learning, modelVersion: 0,
                         lastScore: nil, lastRetrain: nil),
        ]
        let json = Listing.series(records, format: .json)
        #expect(try JSONDecoder().decode([SeriesRecord].self, from: Data(json.utf8)) == records)
        let table = Listing.series(records, format: .table)
        #expect(table.hasPrefix("SERIES     POINTS  STATE     MODEL  LAST SEEN"))
        #expect(table.contains("2026-11-27T10:00:00Z"))
        #expect(table.contains("never"))
        let csv = Listing.series(records, format: .csv)
        #expect(csv.hasPrefix("series,first_seen,last_seen,points,state,model_version,last_score,last_retrain,refused_out_of_order,refused_future\n"))
        #expect(csv.contains("\nnew,5.0,6.0,2,learning,0,,,0,0\n"))
    }

    /// Hostile keys are quoted byte-wise: CR LF (one Swift Character, equal to neither CR nor LF), a lone CR, a
    /// lone LF, quotes and commas; NUL, ESC and C1 need no quoting and are kept exactly (the end-to-end test
    /// reads them back with a CSV parser).
    @Test func csvQuotesHostileKeys() {
        #expect(Listing.csvField("a\r\nb") == "\"a\r\nb\"")
        #expect(Listing.csvField("\r\n") == "\"\r\n\"")
        #expect(Listing.csvField("c\rd") == "\"c\rd\"")
        #expect(Listing.csvField("e\nf") == "\"e\nf\"")
        #expect(Listing.csvField("q\"u,o\"te") == "\"q\"\"u,o\"\"te\"")
        #expect(Listing.csvField("nul\u{0}esc\u{1B}c1\u{9B}") == "nul\u{0}esc\u{1B}c1\u{9B}")
        #expect(Listing.csvField("plain.key") == "plain.key")
    }

    /// A table never passes a control character through: CR, LF, ESC, NUL and C1 come out as visible escapes, one
    /// row per record.
    @Test func tableEscapesControls() {
        let record = AnomalyRecord(id: 1, episode: Episode(
            series: "x\r\n\u{1B}[31mred\u{0}\u{9B}\u{202E}", number: 1, openedAt: 0, closedAt: 1, peakAt: 0,
            peakScore: 1, value: 1, predicted: 1, lower: 0, upper: 2, threshold: 0.5, points: 1, modelVersion: 1,
            closeReason: "re\nstart"))
        for text in [Listing.anomalies([record], format: .table),
                     Listing.series([SeriesRecord(series: record.series, firstSeen: 0, lastSeen: 0, points: 1,
                                                  state: .learning, modelVersion: 0, lastScore: nil, lastRetrain: nil)],
                                    format: .table)] {
            #expect(text.split(separator: "\n", omittingEmptySubsequences: false).count == 3)  // header, row, ""
            #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
            #expect(!text.unicodeScalars.contains { (0x7F...0x9F).contains($0.value) || $0.value == 0x202E })
            #expect(text.contains("x\\r\\n\\e[31mred\\x00\\u{009B}\\u{202E}"))
        }
    }
}

import Detection
import Testing
@testable import Messaging

@Suite struct PayloadParserTests {
    /// Without a pinned format each record's format is detected on its own, so formats may mix in one payload.
    @Test func autoDetectionPerRecord() {
        let text = """
        web01.cpu.user 12.5 1700000000
        cpu,host=web01 usage=3 1700000000000000000
        {"series":"j","value":1,"ts":1700000000}
        ESTP:h:a:r:m: 2023-11-14T22:13:20Z 10 7
        weird=key.name 4 1700000000
        m f="x y" 1700000000000000000
        """
        let (points, summary) = parse(text)
        #expect(points.map(\.key) == ["web01.cpu.user", "cpu,host=web01 usage", "j", "h:a:r:m", "weird=key.name"])
        #expect(points.allSatisfy { $0.timestamp == 1_700_000_000 })
        #expect(summary.records == 6 && summary.skipped == 1 && summary.rejected == 0)
    }

    /// The detector picks each format from its first bytes and field shape.
    @Test func detectRules() {
        func detect(_ s: String) -> WireFormat {
            Array(s.utf8).withUnsafeBufferPointer { b in PayloadParser.detect(b.baseAddress!, 0, b.count) }
        }
        #expect(detect("a.b 1 2") == .graphite)
        #expect(detect("a.b 1") == .graphite)
        #expect(detect("m,t=x f=1") == .influx)
        #expect(detect(#"m\ x f=1"#) == .influx)
        #expect(detect(#"{"series":"a"}"#) == .json)
        #expect(detect("ESTP:a:b:c:d: x") == .estp)
        #expect(detect("ESTPX a 1") == .graphite)
    }

    /// Bad records are counted and sampled while the good records around them are kept, in order.
    @Test func mixedPayloadKeepsGoodRecords() {
        let text = "a 1 100\nbroken\nb 2 200\nc nan 300\nd 4 400\n"
        let (points, summary) = parse(text, format: .graphite)
        #expect(points.map(\.key) == ["a", "b", "d"])
        #expect(summary.points == 3 && summary.malformed == 1 && summary.nonFinite == 1)
        #expect(summary.samples == [ParseErrorSample(line: 2, reason: .malformed, excerpt: "broken"),
                                    ParseErrorSample(line: 4, reason: .nonFinite, excerpt: "c nan 300")])
    }

    /// Infinite values (also by overflow) are non-finite in every format.
    @Test func nonFiniteEverywhere() {
        let text = "g inf 1\ng 1e999 1\ni v=-Inf 1\n{\"series\":\"j\",\"value\":1e400}\nESTP:h:a:r:m: 2023-11-14T22:13:20Z 10 nan"
        let (points, summary) = parse(text)
        #expect(points.isEmpty)
        #expect(summary.nonFinite == 5)
    }

    /// Negative timestamps and those more than a day after receipt are rejected; old ones and up to a day ahead pass.
    @Test func timestampBounds() {
        let text = """
        a 1 -1
        a 1 \(Int(now) + 86_401)
        a 1 \(Int(now) + 86_399)
        a 1 1
        {"series":"a","value":1,"ts":-3}
        m v=1 \(Int64(now + 90_000) * 1_000_000_000)
        """
        let (points, summary) = parse(text)
        #expect(points.map(\.timestamp) == [now + 86_399, 1])
        #expect(summary.badTimestamp == 4)
    }

    /// Keys over 1024 bytes of UTF-8 are rejected; exactly 1024 bytes is fine (counted in bytes, not characters).
    @Test func keyLength() {
        let ok = String(repeating: "é", count: 512)
        let long = String(repeating: "é", count: 512) + "x"
        let (points, summary) = parse("\(ok) 1 1\n\(long) 1 1\nm,t=\(long) v=1 1\n{\"series\":\"\(long)\",\"value\":1}")
        #expect(points.map(\.key) == [ok])
        #expect(summary.keyTooLong == 3)
    }

    /// Keys with invalid UTF-8 (stray continuation, overlong, surrogate, truncated) are rejected as such.
    @Test func invalidUTF8() {
        var payload: [UInt8] = []
        for bad: [UInt8] in [[0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF5, 0x80, 0x80, 0x80]] {
            payload += Array("k".utf8) + bad + Array(" 1 1\n".utf8)
        }
        payload += Array("ok.é 2 2\n".utf8)
        var parser = PayloadParser()
        var points: [Point] = []
        let summary = parser.parse(payload, receivedAt: now, into: &points)
        #expect(points == [Point(key: "ok.é", timestamp: 2, value: 2)])
        #expect(summary.invalidUTF8 == 5)
    }

    /// Only the first few rejections are sampled, and excerpts are cut at 120 characters.
    @Test func samplesBounded() {
        let text = (0..<20).map { _ in String(repeating: "z", count: 300) }.joined(separator: "\n")
        let (_, summary) = parse(text, format: .graphite)
        #expect(summary.malformed == 20)
        #expect(summary.samples.count == ParseSummary.maxSamples)
        #expect(summary.samples.allSatisfy { $0.excerpt.count == 120 })
    }

    /// Merging summaries adds counts and keeps at most the sample limit.
    @Test func merge() {
        var total = ParseSummary()
        for _ in 0..<3 { total.merge(parse("x\ny\na 1 1", format: .graphite).1) }
        #expect(total.malformed == 6 && total.points == 3 && total.samples.count == ParseSummary.maxSamples)
    }

    /// An empty payload or one of blank lines and comments yields nothing and no error.
    @Test func emptyPayloads() {
        for text in ["", "\n\n", "# only a comment\n   \r\n"] {
            let (points, summary) = parse(text)
            #expect(points.isEmpty && summary == ParseSummary())
        }
    }

    /// A key with NUL or any other control character is refused in every format, counted as such, and never
    /// reaches the key table; the victim whose key it imitates keeps its own points.
    @Test func controlCharactersInKeysRefused() {
        var payload: [UInt8] = []
        func line(_ bytes: [UInt8]) { payload += bytes + [0x0A] }
        line(Array("victim.cpu".utf8) + [0x00] + Array("x 1 1700000000".utf8))                 // graphite, NUL
        line(Array("esc".utf8) + [0x1B] + Array("[2J 1 1700000000".utf8))                      // graphite, ESC
        line(Array("del".utf8) + [0x7F] + Array(" 1 1700000000".utf8))                         // graphite, DEL
        line(Array("c1".utf8) + [0xC2, 0x9B] + Array(" 1 1700000000".utf8))                    // graphite, C1 CSI
        line(Array(#"{"series":"victim.cpu\u0000x","value":1,"ts":1700000000}"#.utf8))         // json, escaped NUL
        line(Array(#"{"series":"a\r\nb","value":1,"ts":1700000000}"#.utf8))                     // json, CR LF
        line(Array(#"{"series":"a\u009bb","value":1,"ts":1700000000}"#.utf8))                   // json, C1
        line(Array("m,host=a".utf8) + [0x01] + Array(" v=1 1700000000000000000".utf8))         // influx tag
        line(Array("m f".utf8) + [0x00] + Array("=1 1700000000000000000".utf8))                // influx field key
        line(Array("ESTP:h".utf8) + [0x00] + Array(":a:r:m: 2023-11-14T22:13:20Z 10 7".utf8))  // estp
        line(Array("victim.cpu 2 1700000001".utf8))
        var parser = PayloadParser()
        var points: [Point] = []
        let summary = parser.parse(payload, receivedAt: now, into: &points)
        #expect(points.map(\.key) == ["victim.cpu"])
        #expect(summary.controlCharacter == 10)
        #expect(summary.rejected == 10)
        #expect(parser.keys.keys == ["victim.cpu"])
        #expect(summary.samples.allSatisfy { !$0.excerpt.unicodeScalars.contains { $0.value < 0x20 } })
    }

    /// Only decimal numbers are numbers in the text formats: hexadecimal floats, embedded NUL, blanks and words
    /// other than nan/inf are malformed.
    @Test func onlyDecimalNumbers() {
        var payload: [UInt8] = []
        for value in ["0x1p3", "0x10", "1e", "--1", "1.2.3", "0b1", "1_000", "١"] {
            payload += Array("g \(value) 1700000000\n".utf8)
        }
        payload += Array("g 1".utf8) + [0x00] + Array("2 1700000000\n".utf8)
        payload += Array("g 1 17".utf8) + [0x00] + Array("00000000\n".utf8)
        payload += Array("m v=0x1p3 1700000000000000000\n".utf8)
        payload += Array("ESTP:h:a:r:m: 2023-11-14T22:13:20Z 0x10 7\n".utf8)
        payload += Array("ok 12345678901234567890.5e-3 1700000000\nok2 -.5 1700000000\nok3 5. 1700000000\n".utf8)
        var parser = PayloadParser()
        var points: [Point] = []
        let summary = parser.parse(payload, receivedAt: now, into: &points)
        #expect(summary.malformed == 12)
        #expect(points.map(\.key) == ["ok", "ok2", "ok3"])
        #expect(points.map(\.value) == [12345678901234567890.5e-3, -0.5, 5])
    }
}

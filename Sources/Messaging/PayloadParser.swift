// Payload → points: the ingest hot path.
//
// A payload holds newline-separated records. Lines are found with memchr and parsed from the raw bytes; a bad
// record is counted by reason and sampled, and never costs the valid records beside it.
import Detection
import Foundation

/// Parses ingest payloads into points; one per ingest endpoint (it keeps ESTP counter state between payloads).
public struct PayloadParser: Sendable {
    /// Series keys longer than this many UTF-8 bytes are rejected (`keyTooLong`).
    public static let maxKeyBytes = 1024

    /// The format every record is in, or nil to detect it per record.
    public var format: WireFormat?
    /// Unit of InfluxDB timestamps (nanoseconds unless the producer writes with another precision).
    public var influxPrecision: InfluxPrecision
    /// Timestamps further than this after the receive time are rejected (`badTimestamp`); historic ones are fine.
    public var maxFutureSeconds: Double
    /// Most ESTP counter/derive series remembered for rates; beyond it the memory is cleared and rates restart.
    public var estpStateLimit: Int

    /// The last sample of each ESTP counter/derive series, to turn the next one into a rate.
    private var estpLast: [String: (value: Double, timestamp: Double)] = [:]
    // Scratch buffers reused across records so the InfluxDB path does not allocate per line.
    private var tagRanges: [(start: Int, end: Int, keyEnd: Int)] = []
    private var fieldScratch: [InfluxField] = []
    private var keyScratch: [UInt8] = []
    /// Interned series keys; parsers of one ingest thread share one table so their ids agree.
    public let keys: SeriesKeyTable

    /// Creates a parser for one endpoint; `format: nil` detects the format of each record.
    public init(format: WireFormat? = nil, influxPrecision: InfluxPrecision = .nanoseconds,
                maxFutureSeconds: Double = 86_400, estpStateLimit: Int = 100_000, keys: SeriesKeyTable = SeriesKeyTable()) {
        self.format = format
        self.keys = keys
        self.influxPrecision = influxPrecision
        self.maxFutureSeconds = maxFutureSeconds
        self.estpStateLimit = estpStateLimit
    }

    /// Parses every record of `payload`, appending accepted points to `points`.
    ///
    /// `receivedAt` (Unix seconds) stands in for missing timestamps and bounds future ones.
    public mutating func parse(_ payload: UnsafeRawBufferPointer, receivedAt: Double,
                               into points: inout [Point]) -> ParseSummary {
        var summary = ParseSummary()
        guard let raw = payload.baseAddress, payload.count > 0 else { return summary }
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let count = payload.count
        var lineStart = 0
        var lineNumber = 0
        var previousWasESTP = false
        while lineStart < count {
            let lineEnd: Int
            if let nl = memchr(p + lineStart, Int32(ASCII.newline), count - lineStart) {
                lineEnd = UnsafeRawPointer(nl) - raw
            } else {
                lineEnd = count
            }
            lineNumber += 1
            var s = lineStart
            var e = lineEnd
            lineStart = lineEnd + 1
            let indented = s < e && ASCII.isBlank(p[s])
            while s < e && ASCII.isBlank(p[s]) { s += 1 }
            while e > s && (ASCII.isBlank(p[e - 1]) || p[e - 1] == ASCII.cr) { e -= 1 }
            if s == e || p[s] == ASCII.hash { continue }
            // ESTP extension data: lines after a metric line that start with whitespace.
            if indented && previousWasESTP {
                summary.skipped += 1
                continue
            }
            let lineFormat = format ?? Self.detect(p, s, e)
            var line = Line(p: p, start: s, end: e, number: lineNumber, receivedAt: receivedAt)
            switch lineFormat {
            case .graphite: parseGraphite(&line, &points, &summary)
            case .influx: parseInflux(&line, &points, &summary)
            case .json: parseJSON(&line, &points, &summary)
            case .estp: parseESTP(&line, &points, &summary)
            }
            previousWasESTP = lineFormat == .estp
        }
        return summary
    }

    /// Parses a payload held in an array (tools and tests).
    public mutating func parse(_ payload: [UInt8], receivedAt: Double, into points: inout [Point]) -> ParseSummary {
        payload.withUnsafeBytes { parse($0, receivedAt: receivedAt, into: &points) }
    }

    /// Parses a payload given as text (tools and tests).
    public mutating func parse(_ payload: String, receivedAt: Double, into points: inout [Point]) -> ParseSummary {
        parse(Array(payload.utf8), receivedAt: receivedAt, into: &points)
    }

    /// Guesses the format of one trimmed record: ESTP and JSON by their first bytes; otherwise InfluxDB when the
    /// second space-separated part holds `=` (a field set), else Graphite.
    static func detect(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> WireFormat {
        if e - s >= 5 && p[s] == 0x45 && p[s + 1] == 0x53 && p[s + 2] == 0x54 && p[s + 3] == 0x50
            && p[s + 4] == ASCII.colon {
            return .estp
        }
        if p[s] == ASCII.openBrace { return .json }
        var i = s
        while i < e && !ASCII.isBlank(p[i]) {
            i += p[i] == ASCII.backslash ? 2 : 1
        }
        while i < e && ASCII.isBlank(p[i]) { i += 1 }
        while i < e && !ASCII.isBlank(p[i]) {
            if p[i] == ASCII.equals { return .influx }
            i += 1
        }
        return .graphite
    }

    // MARK: - Shared record helpers

    /// One trimmed record being parsed.
    struct Line {
        let p: UnsafePointer<UInt8>
        let start: Int
        let end: Int
        let number: Int
        let receivedAt: Double
    }

    private func reject(_ reason: RejectReason, _ line: Line, _ summary: inout ParseSummary) {
        summary[reason] += 1
        if summary.samples.count < ParseSummary.maxSamples {
            // Control characters (C0, DEL, C1) become `?` so a hostile record cannot forge log lines.
            let n = min(line.end - line.start, 480)
            let decoded = String(decoding: UnsafeBufferPointer(start: line.p + line.start, count: n), as: UTF8.self)
            var excerpt = ""
            excerpt.unicodeScalars.append(contentsOf: decoded.unicodeScalars.lazy.map {
                SeriesKeyText.isControl($0) ? "?" : $0
            })
            if excerpt.count > 120 { excerpt = String(excerpt.prefix(120)) }
            summary.samples.append(ParseErrorSample(line: line.number, reason: reason, excerpt: excerpt))
        }
    }

    /// Makes a series key from raw bytes (interned in `keys`, with its id), or says why it cannot be one.
    @inline(__always)
    private func makeKey(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> ((key: String, id: UInt32)?, RejectReason) {
        let n = e - s
        if n <= 0 { return (nil, .malformed) }
        if n > Self.maxKeyBytes { return (nil, .keyTooLong) }
        // One pass for both checks: a high bit sends the key to UTF-8 validation, a byte below 0x20 or 0x7F is a
        // control character (C1 controls, two bytes in UTF-8, are looked for only when a high bit is set).
        var high: UInt8 = 0
        var control = false
        for i in s..<e {
            let c = p[i]
            high |= c
            control = control || c < 0x20 || c == 0x7F
        }
        if control { return (nil, .controlCharacter) }
        if high >= 0x80 {
            if !isValidUTF8(p, s, e) { return (nil, .invalidUTF8) }
            if SeriesKeyText.containsControl(p + s, n) { return (nil, .controlCharacter) }
        }
        return (keys.intern(p + s, n), .malformed)
    }

    @inline(__always)
    private func timestampOK(_ ts: Double, _ line: Line) -> Bool {
        ts.isFinite && ts >= 0 && ts <= line.receivedAt + maxFutureSeconds
    }

    /// Splits off the next run of non-blank bytes at or after `i`; nil at the end of the line.
    @inline(__always)
    private static func nextToken(_ p: UnsafePointer<UInt8>, _ i: inout Int, _ e: Int) -> (Int, Int)? {
        while i < e && ASCII.isBlank(p[i]) { i += 1 }
        guard i < e else { return nil }
        let s = i
        while i < e && !ASCII.isBlank(p[i]) { i += 1 }
        return (s, i)
    }

    // MARK: - Graphite: `key value [timestamp]`

    private func parseGraphite(_ line: inout Line, _ points: inout [Point], _ summary: inout ParseSummary) {
        let p = line.p
        var i = line.start
        guard let key = Self.nextToken(p, &i, line.end), let value = Self.nextToken(p, &i, line.end) else {
            return reject(.malformed, line, &summary)
        }
        let ts = Self.nextToken(p, &i, line.end)
        if Self.nextToken(p, &i, line.end) != nil { return reject(.malformed, line, &summary) }
        guard let v = parseDouble(p, value.0, value.1) else { return reject(.malformed, line, &summary) }
        var timestamp = line.receivedAt
        if let ts {
            guard let t = parseDouble(p, ts.0, ts.1) else { return reject(.malformed, line, &summary) }
            timestamp = t
        }
        guard v.isFinite else { return reject(.nonFinite, line, &summary) }
        guard timestampOK(timestamp, line) else { return reject(.badTimestamp, line, &summary) }
        // The key last: only a record that is otherwise valid adds a key to the table.
        let (name, why) = makeKey(p, key.0, key.1)
        guard let name else { return reject(why, line, &summary) }
        points.append(Point(key: name.key, timestamp: timestamp, value: v, seriesID: name.id))
        summary.records += 1
        summary.points += 1
    }

    // MARK: - InfluxDB line protocol

    /// One field of an InfluxDB record: where its key is, and its value when numeric.
    struct InfluxField {
        var keyStart: Int
        var keyEnd: Int
        var value: Double?
    }

    private mutating func parseInflux(_ line: inout Line, _ points: inout [Point], _ summary: inout ParseSummary) {
        let p = line.p
        let e = line.end
        var i = line.start
        // Measurement and tag set, up to the first unescaped space; commas split it.
        tagRanges.removeAll(keepingCapacity: true)
        var measurementEnd = -1
        var segmentStart = i
        var segmentEquals = -1
        func closeSegment(_ at: Int) -> Bool {
            if measurementEnd < 0 {
                measurementEnd = at
                return at > line.start
            }
            // A tag needs a non-empty key and value around its first unescaped '='.
            guard segmentEquals > segmentStart, segmentEquals < at - 1 else { return false }
            tagRanges.append((segmentStart, at, segmentEquals))
            return true
        }
        while i < e {
            let c = p[i]
            if c == ASCII.backslash {
                i += 2
                continue
            }
            if c == ASCII.space { break }
            if c == ASCII.comma {
                guard closeSegment(i) else { return reject(.malformed, line, &summary) }
                segmentStart = i + 1
                segmentEquals = -1
            } else if c == ASCII.equals && measurementEnd >= 0 && segmentEquals < 0 {
                segmentEquals = i
            }
            i += 1
        }
        guard i < e, closeSegment(min(i, e)) else { return reject(.malformed, line, &summary) }
        let seriesEnd = i
        while i < e && p[i] == ASCII.space { i += 1 }

        // Field set: key=value pairs up to the next unescaped space outside quotes.
        fieldScratch.removeAll(keepingCapacity: true)
        while true {
            let keyStart = i
            while i < e {
                let c = p[i]
                if c == ASCII.backslash {
                    i += 2
                    continue
                }
                if c == ASCII.equals || c == ASCII.comma || c == ASCII.space { break }
                i += 1
            }
            guard i < e, p[i] == ASCII.equals, i > keyStart else { return reject(.malformed, line, &summary) }
            let keyEnd = i
            i += 1
            guard i < e else { return reject(.malformed, line, &summary) }
            if p[i] == ASCII.quote {
                i += 1
                while i < e && p[i] != ASCII.quote {
                    i += p[i] == ASCII.backslash ? 2 : 1
                }
                guard i < e else { return reject(.malformed, line, &summary) }
                i += 1
                fieldScratch.append(InfluxField(keyStart: keyStart, keyEnd: keyEnd, value: nil))
            } else {
                let valueStart = i
                while i < e && p[i] != ASCII.comma && p[i] != ASCII.space { i += 1 }
                guard let value = Self.influxValue(p, valueStart, i) else {
                    return reject(.malformed, line, &summary)
                }
                fieldScratch.append(InfluxField(keyStart: keyStart, keyEnd: keyEnd, value: value.number))
            }
            if i < e && p[i] == ASCII.comma {
                i += 1
                continue
            }
            break
        }
        // Optional timestamp, an integer in `influxPrecision` units.
        var timestamp = line.receivedAt
        if i < e {
            guard p[i] == ASCII.space else { return reject(.malformed, line, &summary) }
            while i < e && p[i] == ASCII.space { i += 1 }
            guard let raw = parseInt64(p, i, e) else { return reject(.malformed, line, &summary) }
            if raw < 0 { return reject(.badTimestamp, line, &summary) }
            let unit = influxPrecision.unitsPerSecond
            timestamp = Double(raw / unit) + Double(raw % unit) * influxPrecision.secondsPerUnit
        }
        guard timestampOK(timestamp, line) else { return reject(.badTimestamp, line, &summary) }

        // Series prefix: the measurement and tags with tags sorted by key, as InfluxDB keys its series.
        keyScratch.removeAll(keepingCapacity: true)
        if tagsSorted(p) {
            keyScratch.append(contentsOf: UnsafeBufferPointer(start: p + line.start, count: seriesEnd - line.start))
        } else {
            keyScratch.append(contentsOf: UnsafeBufferPointer(start: p + line.start, count: measurementEnd - line.start))
            let sorted = tagRanges.sorted { Self.compareTags(p, $0, $1) }
            for tag in sorted {
                keyScratch.append(ASCII.comma)
                keyScratch.append(contentsOf: UnsafeBufferPointer(start: p + tag.start, count: tag.end - tag.start))
            }
        }
        keyScratch.append(ASCII.space)
        let prefixCount = keyScratch.count
        var emitted = false
        for field in fieldScratch {
            guard let value = field.value else {
                summary.skipped += 1
                continue
            }
            guard value.isFinite else {
                reject(.nonFinite, line, &summary)
                continue
            }
            keyScratch.removeSubrange(prefixCount...)
            keyScratch.append(contentsOf: UnsafeBufferPointer(start: p + field.keyStart, count: field.keyEnd - field.keyStart))
            let (name, why) = keyScratch.withUnsafeBufferPointer { buffer in
                makeKey(buffer.baseAddress ?? p, 0, buffer.count)
            }
            guard let name else {
                reject(why, line, &summary)
                continue
            }
            points.append(Point(key: name.key, timestamp: timestamp, value: value, seriesID: name.id))
            summary.points += 1
            emitted = true
        }
        if emitted || fieldScratch.allSatisfy({ $0.value == nil }) { summary.records += 1 }
    }

    /// An InfluxDB field value: numeric, or valid but not a number (boolean).
    enum InfluxValue {
        case number(Double)
        case nonNumeric

        var number: Double? {
            if case let .number(v) = self { return v }
            return nil
        }
    }

    /// Classifies an unquoted field value (float, `12i`, `12u`, boolean); nil when malformed.
    private static func influxValue(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> InfluxValue? {
        guard e > s else { return nil }
        let last = p[e - 1]
        if last == ASCII.lowerI || last == ASCII.lowerU {
            guard let n = parseInt64(p, s, e - 1) else { return nil }
            if last == ASCII.lowerU && n < 0 { return nil }
            return .number(Double(n))
        }
        if isBoolean(p, s, e) { return .nonNumeric }
        guard let v = parseDouble(p, s, e) else { return nil }
        return .number(v)
    }

    /// `t T true True TRUE f F false False FALSE`, compared byte-wise (no String on the hot path).
    private static func isBoolean(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> Bool {
        let n = e - s
        let first = p[s]
        guard first == 0x74 || first == 0x54 || first == 0x66 || first == 0x46 else { return false }
        if n == 1 { return true }
        let word: StaticString = (first == 0x74 || first == 0x54) ? "true" : "false"
        guard n == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        let upper = p[s + 1] >= 0x41 && p[s + 1] <= 0x5A
        for k in 1..<n {
            let c = p[s + k]
            let expected = upper ? w[k] - 0x20 : w[k]
            if c != expected { return false }
        }
        return true
    }

    private func tagsSorted(_ p: UnsafePointer<UInt8>) -> Bool {
        guard tagRanges.count > 1 else { return true }
        for k in 1..<tagRanges.count where Self.compareTags(p, tagRanges[k], tagRanges[k - 1]) { return false }
        return true
    }

    /// Byte order of tag keys (then values), as InfluxDB sorts them.
    private static func compareTags(_ p: UnsafePointer<UInt8>, _ a: (start: Int, end: Int, keyEnd: Int),
                                    _ b: (start: Int, end: Int, keyEnd: Int)) -> Bool {
        let la = a.keyEnd - a.start, lb = b.keyEnd - b.start
        let c = memcmp(p + a.start, p + b.start, min(la, lb))
        if c != 0 { return c < 0 }
        if la != lb { return la < lb }
        let va = a.end - a.keyEnd, vb = b.end - b.keyEnd
        let cv = memcmp(p + a.keyEnd, p + b.keyEnd, min(va, vb))
        return cv != 0 ? cv < 0 : va < vb
    }

    // MARK: - JSON lines: `{"series":…,"value":…,"ts":…}`

    private func parseJSON(_ line: inout Line, _ points: inout [Point], _ summary: inout ParseSummary) {
        var scanner = JSONLineScanner(p: line.p, i: line.start, end: line.end)
        switch scanner.scanPoint() {
        case .malformed:
            reject(.malformed, line, &summary)
        case .invalidUTF8:
            reject(.invalidUTF8, line, &summary)
        case .nonFinite:
            reject(.nonFinite, line, &summary)
        case let .point(keyStart, keyEnd, decodedKey, value, ts):
            let timestamp = ts ?? line.receivedAt
            guard value.isFinite else { return reject(.nonFinite, line, &summary) }
            guard timestampOK(timestamp, line) else { return reject(.badTimestamp, line, &summary) }
            let (name, why): ((key: String, id: UInt32)?, RejectReason)
            if let decodedKey {
                (name, why) = decodedKey.withUnsafeBufferPointer { buffer in
                    guard let base = buffer.baseAddress else { return (nil, .malformed) }
                    return makeKey(base, 0, buffer.count)
                }
            } else {
                (name, why) = makeKey(line.p, keyStart, keyEnd)
            }
            guard let name else { return reject(why, line, &summary) }
            points.append(Point(key: name.key, timestamp: timestamp, value: value, seriesID: name.id))
            summary.records += 1
            summary.points += 1
        case .badTimestamp:
            reject(.badTimestamp, line, &summary)
        }
    }

    // MARK: - ESTP: `ESTP:host:app:resource:metric: TIMESTAMP INTERVAL VALUE[^'+]`

    private mutating func parseESTP(_ line: inout Line, _ points: inout [Point], _ summary: inout ParseSummary) {
        let p = line.p
        var i = line.start
        guard let name = Self.nextToken(p, &i, line.end), let ts = Self.nextToken(p, &i, line.end),
              let interval = Self.nextToken(p, &i, line.end), let value = Self.nextToken(p, &i, line.end),
              Self.nextToken(p, &i, line.end) == nil else {
            return reject(.malformed, line, &summary)
        }
        // The name is `ESTP:` + four colon-separated parts + a final colon; the key is the four parts.
        let keyStart = name.0 + 5
        let keyEnd = name.1 - 1
        guard name.1 - name.0 > 5, p[name.0 + 4] == ASCII.colon, p[keyEnd] == ASCII.colon, keyEnd > keyStart else {
            return reject(.malformed, line, &summary)
        }
        var colons = 0
        for k in keyStart..<keyEnd where p[k] == ASCII.colon { colons += 1 }
        guard colons == 3 else { return reject(.malformed, line, &summary) }
        guard let timestamp = ISO8601.parse(p, ts.0, ts.1, timeRequired: true) else { return reject(.malformed, line, &summary) }
        guard let seconds = parseDouble(p, interval.0, interval.1), seconds.isFinite, seconds >= 0 else {
            return reject(.malformed, line, &summary)
        }
        var valueEnd = value.1
        let marker = p[valueEnd - 1]
        if marker == ASCII.caret || marker == ASCII.apostrophe || marker == ASCII.plus { valueEnd -= 1 }
        guard let v = parseDouble(p, value.0, valueEnd) else { return reject(.malformed, line, &summary) }
        guard v.isFinite else { return reject(.nonFinite, line, &summary) }
        guard timestampOK(timestamp, line) else { return reject(.badTimestamp, line, &summary) }
        let (series, why) = makeKey(p, keyStart, keyEnd)
        guard let series else { return reject(why, line, &summary) }

        var rate = v
        switch marker {
        case ASCII.plus:
            // Delta: events during the interval; the rate needs no state.
            guard seconds > 0 else { return reject(.malformed, line, &summary) }
            rate = v / seconds
        case ASCII.caret, ASCII.apostrophe:
            let previous = estpLast[series.key]
            if previous == nil && estpLast.count >= estpStateLimit { estpLast.removeAll(keepingCapacity: true) }
            estpLast[series.key] = (v, timestamp)
            summary.records += 1
            guard let previous, timestamp > previous.timestamp else {
                summary.skipped += 1
                return
            }
            // A counter that went down was reset: no rate across a reset. A derive may go down.
            if marker == ASCII.caret && v < previous.value {
                summary.skipped += 1
                return
            }
            rate = (v - previous.value) / (timestamp - previous.timestamp)
            points.append(Point(key: series.key, timestamp: timestamp, value: rate, seriesID: series.id))
            summary.points += 1
            return
        default:
            break
        }
        points.append(Point(key: series.key, timestamp: timestamp, value: rate, seriesID: series.id))
        summary.records += 1
        summary.points += 1
    }
}


// Points → wire-format text, batched many records per message (for `omen publish`, tests and benchmarks).
import Detection

/// Shortest round-trip text of a Double, as the wire formats write it (`12.5`, `1e-05`, `nan`).
@inline(__always)
func appendNumber(_ value: Double, to out: inout [UInt8]) {
    if value == value.rounded(), abs(value) < 1e15 {
        // Integers print without ".0": shorter, and also valid Graphite/InfluxDB/JSON.
        out.append(contentsOf: String(Int64(value)).utf8)
    } else {
        out.append(contentsOf: value.description.utf8)
    }
}

/// Appends `text` as a JSON string literal: quotes, backslashes and control characters escaped, non-ASCII as UTF-8.
public func appendJSONString(_ text: String, to out: inout [UInt8]) {
    out.append(ASCII.quote)
    for byte in text.utf8 {
        switch byte {
        case ASCII.quote: out.append(contentsOf: [ASCII.backslash, ASCII.quote])
        case ASCII.backslash: out.append(contentsOf: [ASCII.backslash, ASCII.backslash])
        case 0x0A: out.append(contentsOf: [ASCII.backslash, 0x6E])
        case 0x0D: out.append(contentsOf: [ASCII.backslash, 0x72])
        case 0x09: out.append(contentsOf: [ASCII.backslash, 0x74])
        case 0x08: out.append(contentsOf: [ASCII.backslash, 0x62])
        case 0x0C: out.append(contentsOf: [ASCII.backslash, 0x66])
        case 0..<0x20, 0x7F:
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            out.append(contentsOf: [ASCII.backslash, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
        default: out.append(byte)
        }
    }
    out.append(ASCII.quote)
}

/// Writes points as records of one wire format, one per line.
public struct PointEncoder: Sendable {
    /// The output format (ESTP writes gauges).
    public var format: WireFormat
    /// Unit of InfluxDB timestamps written.
    public var influxPrecision: InfluxPrecision

    /// Creates an encoder for `format`.
    public init(format: WireFormat, influxPrecision: InfluxPrecision = .nanoseconds) {
        self.format = format
        self.influxPrecision = influxPrecision
    }

    /// Appends one record (with its trailing newline) to `out`.
    ///
    /// Graphite keys cannot hold blanks, so blanks become `_`. For InfluxDB, a key in Omen's influx form
    /// (`measurement,tags field`) is written back as such; any other key becomes a measurement with a `value` field.
    public func append(_ point: Point, to out: inout [UInt8]) {
        switch format {
        case .graphite:
            for byte in point.key.utf8 { out.append(ASCII.isBlank(byte) || byte == ASCII.newline ? 0x5F : byte) }
            out.append(ASCII.space)
            appendNumber(point.value, to: &out)
            out.append(ASCII.space)
            appendNumber(point.timestamp, to: &out)
        case .influx:
            appendInfluxSeries(point.key, to: &out)
            out.append(ASCII.equals)
            appendNumber(point.value, to: &out)
            out.append(ASCII.space)
            let units = (point.timestamp * Double(influxPrecision.unitsPerSecond)).rounded()
            out.append(contentsOf: String(units.isFinite ? Int64(max(min(units, 9.2e18), -9.2e18)) : 0).utf8)
        case .json:
            out.append(contentsOf: Array(#"{"series":"#.utf8))
            appendJSONString(point.key, to: &out)
            out.append(contentsOf: Array(#","value":"#.utf8))
            if point.value.isFinite { appendNumber(point.value, to: &out) } else { out.append(contentsOf: Array("null".utf8)) }
            out.append(contentsOf: Array(#","ts":"#.utf8))
            appendNumber(point.timestamp, to: &out)
            out.append(ASCII.closeBrace)
        case .estp:
            var parts = point.key.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            while parts.count < 4 { parts.insert("", at: 0) }
            let name = parts.suffix(4).joined(separator: ":").map { $0 == " " || $0 == "\t" ? "_" : $0 }
            out.append(contentsOf: Array("ESTP:\(String(name)): \(CivilCalendar.iso8601(point.timestamp, fractionDigits: 0)) 0 ".utf8))
            appendNumber(point.value, to: &out)
        }
        out.append(ASCII.newline)
    }

    private func appendInfluxSeries(_ key: String, to out: inout [UInt8]) {
        let bytes = Array(key.utf8)
        // Omen's influx keys are `series field`: the last unescaped space separates the field.
        var lastSpace = -1
        var i = 0
        while i < bytes.count {
            if bytes[i] == ASCII.backslash {
                i += 2
                continue
            }
            if bytes[i] == ASCII.space { lastSpace = i }
            i += 1
        }
        if lastSpace > 0 && lastSpace < bytes.count - 1 {
            out.append(contentsOf: bytes[..<(lastSpace + 1)])
            out.append(contentsOf: bytes[(lastSpace + 1)...])
            return
        }
        for byte in bytes {
            if byte == ASCII.comma || byte == ASCII.space || byte == ASCII.equals { out.append(ASCII.backslash) }
            out.append(byte)
        }
        out.append(contentsOf: Array(" value".utf8))
    }

    /// Encodes `points` into messages of at most `recordsPerMessage` records each.
    public func messages(_ points: some Sequence<Point>, recordsPerMessage: Int) -> [[UInt8]] {
        precondition(recordsPerMessage > 0, "recordsPerMessage must be positive")
        var result: [[UInt8]] = []
        var current: [UInt8] = []
        var inCurrent = 0
        for point in points {
            append(point, to: &current)
            inCurrent += 1
            if inCurrent == recordsPerMessage {
                result.append(current)
                current = []
                current.reserveCapacity(result[result.count - 1].count)
                inCurrent = 0
            }
        }
        if inCurrent > 0 { result.append(current) }
        return result
    }
}

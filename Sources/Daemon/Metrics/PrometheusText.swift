/// One sample line of the Prometheus text format: `name{label="value",…} number`.
public struct PrometheusSample: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var value: Double
}

/// Why a line of exposition text could not be read.
public struct PrometheusTextError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var reason: String
    public var description: String { "line \(line): \(reason)" }
}

/// Reads the samples of Prometheus exposition text (version 0.0.4), for `omen status` and the tests.
///
/// Strict where a scraper is: metric and label names must be valid, label values quoted with `\\`, `\"` and `\n`
/// escapes, the value a float (`NaN`, `+Inf`, `-Inf` allowed), an optional integer timestamp after it; `#` lines
/// are `# HELP name text` or `# TYPE name counter|gauge|histogram|summary|untyped` (other comments pass).
public enum PrometheusText {
    public static func parse(_ text: String) throws(PrometheusTextError) -> [PrometheusSample] {
        var samples: [PrometheusSample] = []
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = Array(raw.unicodeScalars)
            if line.isEmpty { continue }
            if line[0] == "#" {
                try checkComment(String(raw), number)
                continue
            }
            samples.append(try sample(line, number))
        }
        return samples
    }

    /// The value of one sample, if present (`labels` must match exactly).
    public static func value(_ samples: [PrometheusSample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// The sum over every sample of `name`, whatever its labels.
    public static func sum(_ samples: [PrometheusSample], _ name: String) -> Double {
        samples.filter { $0.name == name }.reduce(0) { $0 + $1.value }
    }

    private static func checkComment(_ line: String, _ n: Int) throws(PrometheusTextError) {
        let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0] == "#", parts[1] == "HELP" || parts[1] == "TYPE" else { return }
        guard parts.count >= 3, isName(Array(parts[2].unicodeScalars), colon: true) else {
            throw PrometheusTextError(line: n, reason: "\(parts[1]) without a valid metric name")
        }
        if parts[1] == "TYPE" {
            let kinds: Set<Substring> = ["counter", "gauge", "histogram", "summary", "untyped"]
            guard parts.count == 4, kinds.contains(parts[3]) else {
                throw PrometheusTextError(line: n, reason: "TYPE must be counter, gauge, histogram, summary or untyped")
            }
        }
    }

    private static func sample(_ s: [Unicode.Scalar], _ n: Int) throws(PrometheusTextError) -> PrometheusSample {
        var i = 0
        while i < s.count, s[i] != "{", s[i] != " " { i += 1 }
        let name = Array(s[0..<i])
        guard isName(name, colon: true) else { throw PrometheusTextError(line: n, reason: "bad metric name") }
        var labels: [String: String] = [:]
        if i < s.count, s[i] == "{" {
            i += 1
            while i < s.count, s[i] != "}" {
                let start = i
                while i < s.count, s[i] != "=" { i += 1 }
                let label = Array(s[start..<i])
                guard isName(label, colon: false), i + 1 < s.count, s[i + 1] == "\"" else {
                    throw PrometheusTextError(line: n, reason: "bad label")
                }
                i += 2
                var value = ""
                var closed = false
                while i < s.count {
                    let c = s[i]
                    if c == "\\" {
                        guard i + 1 < s.count else { break }
                        switch s[i + 1] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: throw PrometheusTextError(line: n, reason: "bad escape in a label value")
                        }
                        i += 2
                        continue
                    }
                    if c == "\"" {
                        closed = true
                        i += 1
                        break
                    }
                    value.unicodeScalars.append(c)
                    i += 1
                }
                guard closed else { throw PrometheusTextError(line: n, reason: "unterminated label value") }
                guard labels.updateValue(value, forKey: String(String.UnicodeScalarView(label))) == nil else {
                    throw PrometheusTextError(line: n, reason: "label given twice")
                }
                if i < s.count, s[i] == "," { i += 1 }
            }
            guard i < s.count else { throw PrometheusTextError(line: n, reason: "labels not closed") }
            i += 1
        }
        let rest = String(String.UnicodeScalarView(s[i...])).split(separator: " ")
        guard rest.count == 1 || rest.count == 2 else {
            throw PrometheusTextError(line: n, reason: "expected a value and an optional timestamp")
        }
        let value: Double
        switch rest[0] {
        case "NaN": value = .nan
        case "+Inf", "Inf": value = .infinity
        case "-Inf": value = -.infinity
        default:
            guard let v = Double(rest[0]) else { throw PrometheusTextError(line: n, reason: "bad value \(rest[0])") }
            value = v
        }
        if rest.count == 2, Int64(rest[1]) == nil { throw PrometheusTextError(line: n, reason: "bad timestamp") }
        return PrometheusSample(name: String(String.UnicodeScalarView(name)), labels: labels, value: value)
    }

    private static func isName(_ s: [Unicode.Scalar], colon: Bool) -> Bool {
        guard let first = s.first else { return false }
        func ok(_ c: Unicode.Scalar, leading: Bool) -> Bool {
            ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" || (colon && c == ":")
                || (!leading && ("0"..."9").contains(c))
        }
        return ok(first, leading: true) && s.dropFirst().allSatisfy { ok($0, leading: false) }
    }
}

import Detection
import Foundation

/// How the CLI prints records: aligned columns for people, JSON and CSV for programs.
public enum ListingFormat: String, Sendable, CaseIterable {
    /// Aligned columns, ISO-8601 UTC times, one row per line.
    case table
    /// One JSON array of objects with snake_case keys; times are Unix seconds, missing values null.
    case json
    /// RFC 4180 CSV with a header row; times are Unix seconds, missing values empty.
    case csv
}

/// Renders anomaly and series records in a `ListingFormat`; the commands only print what this returns.
public enum Listing {
    static let anomalyFields = [
        "id", "series", "episode", "opened_at", "closed_at", "peak_at", "peak_score", "value", "predicted", "lower",
        "upper", "threshold", "points", "model_version", "close_reason", "label", "hindsight_score",
        "cause",
    ]
    static let seriesFields = [
        "series", "first_seen", "last_seen", "points", "state", "model_version", "last_score", "last_retrain",
        "refused_out_of_order", "refused_future",
    ]

    /// The whole output for `records`, ending in a newline (a table of nothing says so in words).
    public static func anomalies(_ records: [AnomalyRecord], format: ListingFormat) -> String {
        switch format {
        case .table:
            if records.isEmpty { return "no anomalies match\n" }
            let header = ["ID", "SERIES", "EPISODE", "OPENED", "CLOSED", "PEAK AT", "SCORE", "HINDSIGHT", "VALUE",
                          "PREDICTED", "EXPECTED", "POINTS", "MODEL", "CAUSE", "REASON", "LABEL"]
            let rows = records.map { r in
                [String(r.id), SeriesKeyText.escaped(r.series), String(r.number), TimeArgument.formatISO8601(r.openedAt),
                 r.closedAt.map(TimeArgument.formatISO8601) ?? "open", TimeArgument.formatISO8601(r.peakAt),
                 score(r.peakScore), r.hindsightScore.map(score) ?? "-", number(r.value), number(r.predicted),
                 "\(number(r.lower))..\(number(r.upper))", String(r.points), String(r.modelVersion),
                 r.cause?.rawValue ?? "-", SeriesKeyText.escaped(r.closeReason ?? ""), r.label?.rawValue ?? ""]
            }
            return table(header: header, rows: rows, rightAligned: [0, 2, 6, 7, 8, 9, 11, 12])
        case .json:
            return jsonArray(records.map(jsonValues), fields: anomalyFields)
        case .csv:
            return csv(records.map { r in
                [String(r.id), r.series, String(r.number), csv(r.openedAt), csv(r.closedAt), csv(r.peakAt),
                 csv(r.peakScore), csv(r.value), csv(r.predicted), csv(r.lower), csv(r.upper), csv(r.threshold),
                 String(r.points), String(r.modelVersion), r.closeReason ?? "", r.label?.rawValue ?? "",
                 csv(r.hindsightScore), r.cause?.rawValue ?? ""]
            }, fields: anomalyFields)
        }
    }

    /// The JSON values of one record, in the order of `anomalyFields`.
    static func jsonValues(_ r: AnomalyRecord) -> [String] {
        [json(r.id), json(r.series), json(r.number), json(r.openedAt), json(r.closedAt), json(r.peakAt),
         json(r.peakScore), json(r.value), json(r.predicted), json(r.lower), json(r.upper),
         json(r.threshold), json(r.points), json(r.modelVersion), json(r.closeReason), json(r.label?.rawValue),
         json(r.hindsightScore), json(r.cause?.rawValue)]
    }

    /// The whole output for `records`, ending in a newline.
    public static func series(_ records: [SeriesRecord], format: ListingFormat) -> String {
        switch format {
        case .table:
            if records.isEmpty { return "no series yet\n" }
            let header = ["SERIES", "POINTS", "STATE", "MODEL", "LAST SEEN", "LAST SCORE", "LAST RETRAIN", "REFUSED"]
            let rows = records.map { r in
                [SeriesKeyText.escaped(r.series), String(r.points), r.state.rawValue, String(r.modelVersion),
                 TimeArgument.formatISO8601(r.lastSeen), r.lastScore.map(score) ?? "-",
                 r.lastRetrain.map(TimeArgument.formatISO8601) ?? "never", refused(r)]
            }
            return table(header: header, rows: rows, rightAligned: [1, 3, 5])
        case .json:
            return jsonArray(records.map { r in
                [json(r.series), json(r.firstSeen), json(r.lastSeen), json(r.points), json(r.state.rawValue),
                 json(r.modelVersion), json(r.lastScore), json(r.lastRetrain), json(r.refusedOutOfOrder),
                 json(r.refusedFuture)]
            }, fields: seriesFields)
        case .csv:
            return csv(records.map { r in
                [r.series, csv(r.firstSeen), csv(r.lastSeen), String(r.points), r.state.rawValue,
                 String(r.modelVersion), csv(r.lastScore), csv(r.lastRetrain), String(r.refusedOutOfOrder),
                 String(r.refusedFuture)]
            }, fields: seriesFields)
        }
    }

    /// The REFUSED cell: "-" for none, else each reason with its count ("3 old, 1 future").
    static func refused(_ r: SeriesRecord) -> String {
        var parts: [String] = []
        if r.refusedOutOfOrder > 0 { parts.append("\(r.refusedOutOfOrder) old") }
        if r.refusedFuture > 0 { parts.append("\(r.refusedFuture) future") }
        return parts.isEmpty ? "-" : parts.joined(separator: ", ")
    }

    // MARK: - Table

    static func table(header: [String], rows: [[String]], rightAligned: Set<Int>) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (column, cell) in cells.enumerated() {
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                if column > 0 { text += "  " }
                text += rightAligned.contains(column) ? padding + cell : cell + padding
            }
            while text.last == " " { text.removeLast() }
            return text + "\n"
        }
        return line(header) + rows.map(line).joined()
    }

    static func score(_ value: Double) -> String {
        value.isFinite ? String(format: "%.4f", value) : "-"
    }

    static func number(_ value: Double) -> String {
        value.isFinite ? String(format: "%.6g", value) : (value.isNaN ? "-" : (value > 0 ? "inf" : "-inf"))
    }

    // MARK: - JSON

    static func jsonArray(_ rows: [[String]], fields: [String]) -> String {
        if rows.isEmpty { return "[]\n" }
        let objects = rows.map { values in
            "{" + zip(fields, values).map { "\"\($0)\":\($1)" }.joined(separator: ",") + "}"
        }
        return "[\n" + objects.joined(separator: ",\n") + "\n]\n"
    }

    static func json(_ value: Int) -> String { String(value) }
    static func json(_ value: Int64) -> String { String(value) }

    /// Swift's shortest round-trip spelling is valid JSON for finite values; JSON has no NaN or infinity.
    static func json(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "null" }
        return String(value)
    }

    static func json(_ value: String?) -> String {
        guard let value else { return "null" }
        var text = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        return text + "\""
    }

    // MARK: - CSV

    static func csv(_ rows: [[String]], fields: [String]) -> String {
        ([fields] + rows).map { $0.map(csvField).joined(separator: ",") + "\n" }.joined()
    }

    static func csv(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "" }
        return String(value)
    }

    /// RFC 4180: a field holding a comma, quote, CR or LF is quoted, its quotes doubled (influx keys contain
    /// commas: `cpu,host=web01 …`). Checked on the UTF-8 bytes: Swift's `Character` sees `"\r\n"` as one
    /// character equal to neither `"\r"` nor `"\n"`, so a check by Character let such a key split a row.
    static func csvField(_ field: String) -> String {
        guard field.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else { return field }
        var quoted = [UInt8]()
        quoted.reserveCapacity(field.utf8.count + 2)
        quoted.append(0x22)
        for byte in field.utf8 {
            if byte == 0x22 { quoted.append(0x22) }
            quoted.append(byte)
        }
        quoted.append(0x22)
        return String(decoding: quoted, as: UTF8.self)
    }
}

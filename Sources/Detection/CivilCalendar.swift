/// Proleptic Gregorian dates ↔ days since 1970-01-01 (Howard Hinnant's days_from_civil / civil_from_days),
/// shared by every parser and formatter of UTC timestamps so that there is one implementation to trust.
public enum CivilCalendar {
    /// Days from 1970-01-01 to the given date (negative before it).
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` after 1970-01-01.
    public static func date(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Seconds since the start of the UTC day of `seconds` (since 1970-01-01), in [0, 86,400); the one rule the
    /// time-of-day bins and the frozen runs' hours both read their bin from.
    @inline(__always)
    static func secondsIntoDay(_ seconds: Double) -> Double {
        let day = 86_400.0
        return seconds - (seconds / day).rounded(.down) * day
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fff]Z` (UTC) with `fractionDigits` digits of fraction (trailing zeros and an all-zero
    /// fraction left out); "-" for NaN, infinity, or a time outside years 0000-9999.
    public static func iso8601(_ seconds: Double, fractionDigits: Int = 0) -> String {
        guard seconds.isFinite, abs(seconds) < 253_402_300_800 else { return "-" }
        let whole = seconds.rounded(.down)
        var total = Int(whole)
        let days = total >= 0 ? total / 86_400 : (total - 86_399) / 86_400
        total -= days * 86_400
        let (year, month, day) = date(days: days)
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(total / 3600, 2)):\(pad(total / 60 % 60, 2)):\(pad(total % 60, 2))"
        if fractionDigits > 0 {
            var scale = 1
            for _ in 0..<fractionDigits { scale *= 10 }
            let frac = min(scale - 1, Int(((seconds - whole) * Double(scale)).rounded()))
            if frac > 0 { text += "." + pad(frac, fractionDigits) }
        }
        return text + "Z"
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}

import COmenSupport
import Foundation

/// Builds the model's input vector for one point: the normalised value, then sin/cos of the time of day and
/// of the day of week (zeros when calendar features are off). The width is fixed (`ModelConfig.inputSize`)
/// so that switching the calendar on or off never changes a model's shape.
public enum Features {
    public static let width = ModelConfig.inputSize

    /// Decides whether calendar encodings mean something for these timestamps: the median spacing must be
    /// between 1 second and 6 hours, so that a day holds several points.
    public static func calendarApplies(_ choice: CalendarFeatures, timestamps: [Double]) -> Bool {
        switch choice {
        case .on: return true
        case .off: return false
        case .auto:
            guard timestamps.count >= 3 else { return false }
            var gaps: [Double] = []
            gaps.reserveCapacity(timestamps.count - 1)
            for i in 1..<timestamps.count { gaps.append(timestamps[i] - timestamps[i - 1]) }
            gaps.sort()
            let median = gaps[gaps.count / 2]
            return median >= 1 && median <= 6 * 3600
        }
    }

    /// Writes the features of one point into `out[0..<width]`.
    @inline(__always)
    public static func write(value: Double, timestamp: Double, normaliser: Normaliser, calendar: Bool,
                             into out: UnsafeMutablePointer<Float>) {
        out[0] = normaliser.normalise(value)
        if calendar {
            let day = 86_400.0
            let dayPhase = (timestamp.truncatingRemainder(dividingBy: day) / day) * 2 * Double.pi
            // 1970-01-01 was a Thursday; the phase only has to be consistent, not aligned to Monday.
            let weekPhase = (timestamp.truncatingRemainder(dividingBy: 7 * day) / (7 * day)) * 2 * Double.pi
            var s = 0.0, c = 0.0
            omen_sincos(dayPhase, &s, &c)
            out[1] = Float(s)
            out[2] = Float(c)
            omen_sincos(weekPhase, &s, &c)
            out[3] = Float(s)
            out[4] = Float(c)
        } else {
            out[1] = 0
            out[2] = 0
            out[3] = 0
            out[4] = 0
        }
    }
}

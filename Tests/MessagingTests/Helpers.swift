import Detection
@testable import Messaging

/// A receive time well after every timestamp the tests use, so only deliberate future stamps are "future".
let now = 1_800_000_000.0

/// Parses `text` with a fresh parser and returns the points and the summary.
func parse(_ text: String, format: WireFormat? = nil, receivedAt: Double = now) -> ([Point], ParseSummary) {
    var parser = PayloadParser(format: format)
    var points: [Point] = []
    let summary = parser.parse(text, receivedAt: receivedAt, into: &points)
    return (points, summary)
}

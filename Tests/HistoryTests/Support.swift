import Foundation
import Detection
@testable import History

/// A fresh folder under the system temp directory, removed when the test's `body` returns.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("omen-history-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// A database path inside a fresh temp folder.
func withDatabasePath<T>(_ body: (String) throws -> T) throws -> T {
    try withTemporaryDirectory { directory in try body(directory + "/omen.db") }
}

func event(_ kind: EpisodeEventKind, _ series: String = "web01.cpu.user", episode: Int = 1, at time: Double,
           openedAt: Double? = nil, peakScore: Double = 0.995, value: Double = 95, points: Int = 1,
           reason: String? = nil) -> EpisodeEvent {
    EpisodeEvent(kind: kind, timestamp: time, score: peakScore, episode: Episode(
        series: series, number: episode, openedAt: openedAt ?? time, closedAt: kind == .close ? time : nil,
        peakAt: time, peakScore: peakScore, value: value, predicted: 12, lower: 8, upper: 16, threshold: 0.99,
        points: points, modelVersion: 3, closeReason: reason))
}

/// A value shared between a test and a closure it hands to the store.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); defer { lock.unlock() }; stored = newValue }
    }
}

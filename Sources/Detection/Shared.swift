// One copy of a configuration for every series that has the same one. A series' scoring configuration is about
// 250 bytes and its detector configuration about 480: kept inline, every point read them across cold cache lines
// of its own copy (and 100,000 series held 73 MB of identical copies); shared, they stay warm in cache.

import Synchronization

/// An immutable value shared by reference; `interned(_:)` hands out one instance per distinct value in use.
final class Shared<Value: Equatable & Sendable>: Sendable {
    let value: Value

    private init(_ value: Value) { self.value = value }

    /// The shared instance for `value` (called when a series is made or reconfigured, not per point). A daemon
    /// has a few distinct configurations (`[[override]]` tables give their series their own episode settings).
    static func interned(_ value: Value) -> Shared<Value> {
        sharedValues.withLock { all in
            for case let s as Shared<Value> in all where s.value == value { return s }
            let s = Shared(value)
            // Bounded: a process that goes through many configurations (tests, reloads) keeps the latest; a value
            // dropped here stays alive in the series that hold it, only no longer shared with later ones.
            if all.count >= 64 { all.removeFirst() }
            all.append(s)
            return s
        }
    }
}

/// Every interned value of every type (a handful: searched linearly).
private let sharedValues = Mutex<[AnyObject]>([])

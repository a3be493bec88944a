/// A fixed-capacity ring buffer: appending past capacity overwrites the oldest element.
public struct Ring<Element>: Sendable where Element: Sendable {
    public let capacity: Int
    private var storage: [Element]
    /// Index of the oldest element in `storage` once the ring is full.
    private var head = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "a ring needs a positive capacity")
        self.capacity = capacity
        storage = []
        storage.reserveCapacity(capacity)
    }

    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }

    public mutating func append(_ element: Element) {
        if storage.count < capacity {
            storage.append(element)
        } else {
            storage[head] = element
            head += 1
            if head == capacity { head = 0 }
        }
    }

    /// The i-th element counted from the oldest (0) to the newest (count - 1).
    public subscript(i: Int) -> Element {
        let j = head + i
        return storage[j < capacity ? j : j - capacity]
    }

    /// The newest element.
    public var last: Element? { storage.isEmpty ? nil : self[storage.count - 1] }

    /// The newest `n` elements (or all), oldest first.
    public func suffix(_ n: Int) -> [Element] {
        let k = Swift.min(n, storage.count)
        var out: [Element] = []
        out.reserveCapacity(k)
        for i in (storage.count - k)..<storage.count { out.append(self[i]) }
        return out
    }

    /// All elements, oldest first.
    public func toArray() -> [Element] { suffix(storage.count) }
}

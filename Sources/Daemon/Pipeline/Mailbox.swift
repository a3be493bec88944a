import Foundation

/// A many-producer, one-consumer queue of messages with a blocking, time-bounded take.
///
/// Producers append whole batches, so the lock is taken once per batch, never once per point.
final class Mailbox<Message: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var messages: [Message] = []
    private var closed = false

    /// Appends one message and wakes the consumer.
    func post(_ message: Message) {
        condition.lock()
        messages.append(message)
        condition.broadcast() // the consumer and a producer waiting for room share the condition
        condition.unlock()
    }

    /// Appends several messages under one lock.
    func post(contentsOf batch: [Message]) {
        guard !batch.isEmpty else { return }
        condition.lock()
        messages.append(contentsOf: batch)
        condition.broadcast() // the consumer and a producer waiting for room share the condition
        condition.unlock()
    }

    /// Appends one message, first waiting (up to `timeout` seconds) while `limit` or more messages are queued.
    /// Returns false when it had to wait at all, so the producer can count the stall. This is the backpressure
    /// between ingest and a shard that falls behind: ingest stops reading its sockets, and libzmq's receive
    /// queue (bounded by `receive_hwm`) holds what comes next, instead of this mailbox growing without bound.
    @discardableResult
    func post(_ message: Message, waitingBelow limit: Int, timeout: Double) -> Bool {
        condition.lock()
        var waited = false
        let deadline = Date(timeIntervalSinceNow: timeout)
        while messages.count >= limit && !closed {
            waited = true
            if !condition.wait(until: deadline) { break }
        }
        messages.append(message)
        condition.broadcast()
        condition.unlock()
        return !waited
    }

    /// No more messages will be posted; the consumer drains what is there and then sees `closed`.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Takes everything queued, waiting up to `timeout` seconds for something to arrive.
    /// Returns the messages and whether the mailbox is closed (and now empty).
    func takeAll(timeout: Double) -> (messages: [Message], closed: Bool) {
        condition.lock()
        defer { condition.unlock() }
        if messages.isEmpty && !closed {
            _ = condition.wait(until: Date(timeIntervalSinceNow: timeout))
        }
        let out = messages
        messages.removeAll(keepingCapacity: true)
        // Wake a producer waiting for room.
        if !out.isEmpty { condition.broadcast() }
        return (out, closed && out.isEmpty)
    }

    /// Messages waiting.
    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return messages.count
    }
}

/// Monotonic clock in seconds (for intervals and latencies; never for timestamps of points).
@inline(__always)
package func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Wall clock in seconds since the epoch.
@inline(__always)
func wallSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

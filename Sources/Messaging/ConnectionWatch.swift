import CZeroMQ
import Foundation

/// Counts the peers of one socket from libzmq's monitor events (connected or accepted, minus disconnected), so
/// a tool can say "nothing is connected" instead of queueing into the void. Same thread rules as the socket.
public final class ConnectionWatch {
    private let pair: ZMQSocket
    private let watched: ZMQSocket
    /// Peers connected now, as far as the events read so far tell.
    public private(set) var peers = 0

    /// Starts watching `socket`; call before it binds or connects so that no event is missed.
    public init(_ socket: ZMQSocket) throws(ZMQError) {
        let endpoint = "inproc://omen-watch-\(UInt64.random(in: 0...UInt64.max))"
        try socket.monitor(endpoint, events: Int32(ZMQ_EVENT_CONNECTED | ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED))
        let pair = try ZMQSocket(context: socket.context, type: .pair)
        do {
            try pair.setLinger(milliseconds: 0)
            try pair.connect(endpoint)
        } catch {
            pair.close()
            throw error
        }
        self.pair = pair
        watched = socket
    }

    /// Reads the events that arrived, waiting up to `milliseconds` for a first peer while there is none;
    /// returns the number of peers.
    @discardableResult
    public func update(waitingUpTo milliseconds: Int = 0) -> Int {
        let deadline = Date(timeIntervalSinceNow: Double(milliseconds) / 1000)
        while true {
            while let frames = try? pair.receiveFrames(dontWait: true), let event = frames.first, event.count >= 2 {
                let code = Int32(UInt16(event[0]) | UInt16(event[1]) << 8)
                if code == ZMQ_EVENT_CONNECTED || code == ZMQ_EVENT_ACCEPTED { peers += 1 }
                if code == ZMQ_EVENT_DISCONNECTED { peers = max(0, peers - 1) }
            }
            if peers > 0 || Date() >= deadline { return peers }
            usleep(10_000)
        }
    }

    /// Stops watching and closes the monitor's socket.
    public func close() {
        _ = try? watched.monitor("", events: 0)
        pair.close()
    }
}

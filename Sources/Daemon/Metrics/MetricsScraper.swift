import Foundation
import Synchronization

/// Scrapes a local `/metrics` at a fixed interval on its own thread (`omen bench ingest --metrics-scrape`).
package final class MetricsScraper: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let count = Atomic<Int>(0)
    private let done = DispatchSemaphore(value: 0)

    package init(port: Int, interval: Double) {
        let thread = Thread { [self] in
            var next = monotonicSeconds()
            while !stopping.load(ordering: .relaxed) {
                if monotonicSeconds() >= next {
                    if let response = try? MetricsClient.get(host: "127.0.0.1", port: port, path: "/metrics"),
                       response.status == 200, !response.body.isEmpty {
                        count.wrappingAdd(1, ordering: .relaxed)
                    }
                    next += interval
                }
                Thread.sleep(forTimeInterval: min(0.01, max(0.001, interval / 10)))
            }
            done.signal()
        }
        thread.name = "omen-scraper"
        thread.start()
    }

    /// Stops the thread; returns the successful scrapes.
    package func stop() -> Int {
        stopping.store(true, ordering: .relaxed)
        done.wait()
        return count.load(ordering: .relaxed)
    }
}

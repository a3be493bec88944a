import Detection
import Foundation
import Synchronization

/// Background threads that run training jobs, at lower CPU priority than ingest and the shards.
///
/// The pool holds at most `capacity` jobs (queued + running). Shards only hand over a job when
/// `freeSlots > 0`, choosing among their due series the one with the oldest model, so the backlog stays in
/// the shards as a bounded set of keys (never as copies of windows) and is served fairly.
final class TrainerPool: Sendable {
    /// A job and where its outcome goes.
    enum Request: Sendable {
        /// A retraining.
        case training(TrainingJob, deliver: @Sendable (TrainingOutcome) -> Void)
        /// The hindsight review of a closed episode (issue 16), off the per-point path.
        case review(HindsightReviewJob, deliver: @Sendable (HindsightVerdict) -> Void)
    }

    let threads: Int
    let capacity: Int
    private let queue = Mailbox<Request>()
    private let inFlight = Atomic<Int>(0)
    private let stats: PipelineStats
    private let finished = DispatchGroup()
    /// Nice value of the trainer threads (higher = lower priority).
    private let niceness: Int32

    init(threads: Int, capacity: Int? = nil, niceness: Int32 = 10, stats: PipelineStats) {
        self.threads = max(1, threads)
        self.capacity = capacity ?? max(2, 2 * max(1, threads))
        self.niceness = niceness
        self.stats = stats
    }

    /// Jobs the pool can accept now.
    var freeSlots: Int { max(0, capacity - inFlight.load(ordering: .relaxed)) }

    /// Hands a job over; false when the pool is full (the caller keeps the series due).
    func submit(_ request: Request) -> Bool {
        let (previous, _) = inFlight.wrappingAdd(1, ordering: .relaxed)
        if previous >= capacity {
            inFlight.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        queue.post(request)
        return true
    }

    func start() {
        for i in 0..<threads {
            finished.enter()
            let thread = Thread { [self] in
                // Per-thread nice value: Linux applies setpriority(PRIO_PROCESS, tid) to one thread.
                nameCurrentThread("omen-trainer-\(i)")
                lowerThreadPriority(niceness)
                work()
                finished.leave()
            }
            thread.name = "omen-trainer-\(i)"
            thread.start()
        }
    }

    private func work() {
        while true {
            let (requests, closed) = queue.takeAll(timeout: 0.5)
            if closed { return }
            // takeAll hands every queued job to this thread; give back all but one so others share the work.
            guard let first = requests.first else { continue }
            if requests.count > 1 { queue.post(contentsOf: Array(requests.dropFirst())) }
            switch first {
            case .training(let job, let deliver):
                let outcome = job.run()
                stats.trainingsDone.wrappingAdd(1, ordering: .relaxed)
                if outcome.accepted {
                    stats.trainingsAccepted.wrappingAdd(1, ordering: .relaxed)
                } else {
                    stats.trainingsRejected.wrappingAdd(1, ordering: .relaxed)
                }
                inFlight.wrappingSubtract(1, ordering: .relaxed)
                deliver(outcome)
            case .review(let job, let deliver):
                let verdict = job.run()
                inFlight.wrappingSubtract(1, ordering: .relaxed)
                deliver(verdict)
            }
        }
    }

    /// Stops taking jobs, lets the running ones finish, and waits for the threads (bounded by `timeout`).
    /// Jobs still queued are dropped: their series are simply due again after a restart.
    func stop(timeout: Double = 30) {
        queue.close()
        _ = finished.wait(timeout: .now() + timeout)
    }
}

/// Raises the nice value of the calling thread only. Linux applies setpriority(PRIO_PROCESS, tid) to one
/// thread; glibc's gettid() is not exported to Swift's Glibc module, so it is looked up at run time.
private func lowerThreadPriority(_ niceness: Int32) {
    typealias GetTid = @convention(c) () -> Int32
    guard let symbol = dlsym(nil, "gettid") else { return }
    let tid = unsafeBitCast(symbol, to: GetTid.self)()
    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid), niceness)
}

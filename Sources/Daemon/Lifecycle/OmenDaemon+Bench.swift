/// What `omen bench ingest` (the `Bench` module) reads beyond the public surface: the pipeline's sizes and
/// a latency reset between warm-up and the timed run.
extension OmenDaemon {
    package var shardCount: Int { shards.count }
    package var trainerThreads: Int { trainers.threads }
    package func resetLatency() { latency.reset() }
}

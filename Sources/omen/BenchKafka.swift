import ArgumentParser
import Bench
import Foundation
import Logging

/// `omen bench kafka`: points/s through a mock Kafka cluster into a group of `omen run` instances, and the
/// takeover time after one is killed.
struct BenchKafka: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka",
        abstract: "Points/s through Kafka (librdkafka's in-process mock cluster) into omen instances of one group; takeover time after SIGKILL.",
        discussion: """
            This process hosts a 3-broker mock cluster and produces keyed points; the instances are `omen run` \
            child processes of this binary. An untimed warm-up trains every series first. Points are counted from the \
            instances' databases, whose series rows are written about once a second: the figures have that resolution. \
            Then one instance is killed while points keep coming: the time until the survivor owns every partition \
            and until it scores the first point of a moved series. Use a release build.
            """)

    @Option(help: "Series.") var series = 200
    @Option(help: "Points per series in the timed run.") var points = 1_000
    @Option(help: "Consecutive points of one series per Kafka message.") var batch = 10
    @Option(help: "omen instances in the group.") var instances = 2
    @Option(help: "Partitions of the input topic.") var partitions = 6
    @Option(help: "Hidden units.") var hidden = 16
    @Flag(help: "Print one JSON line.") var json = false

    func validate() throws {
        guard series > 0, points > 0, batch > 0 else { throw ValidationError("--series, --points and --batch must be at least 1.") }
        guard instances >= 1, partitions >= instances else { throw ValidationError("--partitions must be at least --instances (≥ 1).") }
    }

    func run() throws {
        var options = KafkaBench.Options(binary: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path)
        options.series = series
        options.pointsPerSeries = points
        options.recordsPerMessage = batch
        options.instances = instances
        options.partitions = partitions
        options.hidden = hidden
        let r = try KafkaBench.run(options, logger: Logger(label: "omen.bench"))
        func seconds(_ x: Double?) -> String { x.map { String(format: "%.1f", $0) } ?? "null" }
        if json {
            print("{\"bench\":\"kafka\",\"series\":\(series),\"instances\":\(instances),\"partitions\":\(partitions),\"points\":\(r.points),\"seconds\":\(String(format: "%.2f", r.seconds)),\"points_per_s\":\(Int(r.pointsPerSecond)),\"owned_all_s\":\(seconds(r.ownedAllSeconds)),\"first_moved_point_s\":\(seconds(r.firstMovedPointSeconds))}")
        } else {
            print("kafka: \(series) series, \(r.points) points into \(instances) instances over \(partitions) partitions in \(String(format: "%.2f", r.seconds)) s (setup \(String(format: "%.0f", r.setupSeconds)) s, not timed)")
            print("  points/s: \(Int(r.pointsPerSecond)) (±1 s of the database's summary interval)")
            print("  after SIGKILL of one instance: survivor owns every partition after \(seconds(r.ownedAllSeconds)) s, scores the first point of a moved series after \(seconds(r.firstMovedPointSeconds)) s")
        }
    }
}

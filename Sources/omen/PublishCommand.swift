// `omen publish`: send metric records to an ingest endpoint (demos, tests, benchmarks).
import ArgumentParser
import Detection
import Foundation
import Messaging

/// Sends records from a file, standard input or a synthetic demo over a ZeroMQ PUB socket.
struct PublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Send metric records to an Omen ingest endpoint over ZeroMQ PUB.",
        discussion: """
            Lines from FILE (or standard input) are sent as they are, --batch lines per message, in any format \
            Omen ingests (graphite, influx, json, estp). --demo generates synthetic series with injected anomalies \
            instead, in --format, and prints what it injected to standard error; it is paced at 2000 points per \
            second unless --rate says otherwise, so that the daemon trains each series before its anomalies arrive.
            When no peer connects within --wait seconds (no daemon at the endpoint, or nothing subscribed to a \
            bound one), nothing is sent and the exit status is 1.
            """)

    /// Record formats the demo can write.
    enum DemoFormat: String, ExpressibleByArgument, CaseIterable {
        case graphite, influx, json

        var wire: WireFormat {
            switch self {
            case .graphite: return .graphite
            case .influx: return .influx
            case .json: return .json
            }
        }
    }

    @Option(help: "ZeroMQ endpoint to send to.")
    var endpoint = "tcp://127.0.0.1:7001"

    @Flag(help: "Connect to or bind the endpoint.")
    var mode: SocketMode = .connect

    @Option(help: "Record format written by --demo (graphite, influx or json).")
    var format: DemoFormat = .graphite

    @Option(help: "Records per message.")
    var batch = 100

    @Option(help: "Most points per second to send; 0 sends as fast as possible. Default: 2000 with --demo, else 0.")
    var rate: Double?

    @Option(help: "Seconds to wait for a peer (the daemon, or a subscriber of a bound endpoint) before giving up.")
    var wait: Double = 3

    /// The demo's default pace: fast enough to be quick (6,000 points in 3 s), slow enough for the first
    /// trainings (after 300 points per series, some 20 ms each) to finish before the injected anomalies arrive.
    static let demoRate = 2_000.0

    var pace: Double { rate ?? (demo ? Self.demoRate : 0) }

    @Flag(help: "Generate synthetic series (sine + noise, random walk, constant) with injected anomalies.")
    var demo = false

    @Option(help: "With --demo: points per series.")
    var points = 2_000

    @Option(help: "With --demo: number of series.")
    var series = 3

    @Option(help: "With --demo: seconds of simulated time between points; the last point is stamped now. At the default 90 s the injected anomalies come after each series' first day, before which a series scores nothing ([scoring] min_history_span).")
    var interval: Double = 90

    @Option(help: "With --demo: random seed, so a demo run can be repeated exactly.")
    var seed: UInt64 = 42

    @Option(help: "Kafka bootstrap servers (host:port,...): produce to --topic instead of ZeroMQ, keyed by series key.")
    var kafka: String?

    @Option(help: "With --kafka: the topic to produce to.")
    var topic: String?

    @Option(name: .customLong("kafka-setting"), help: "With --kafka: a librdkafka property name=value (repeatable).")
    var kafkaSettings: [String] = []

    @OptionGroup var curve: CurveClientOptions

    @Argument(help: "File of records, one per line; '-' or nothing reads standard input.")
    var file: String?

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be at least 1 record per message.") }
        if let rate, !(rate >= 0 && rate.isFinite) { throw ValidationError("--rate must be 0 (unlimited) or a positive number of points per second.") }
        guard wait >= 0, wait.isFinite else { throw ValidationError("--wait must be 0 or more seconds.") }
        guard points > 0, series > 0 else { throw ValidationError("--points and --series must be at least 1.") }
        guard interval > 0, interval.isFinite else { throw ValidationError("--interval must be a positive number of seconds.") }
        if demo && file != nil { throw ValidationError("Give either --demo or a FILE, not both.") }
        if kafka != nil && (topic ?? "").isEmpty { throw ValidationError("--kafka needs --topic, the topic to produce to.") }
        if kafka == nil && topic != nil { throw ValidationError("--topic is for Kafka; add --kafka BROKERS.") }
        for setting in kafkaSettings where parseKafkaSetting(setting) == nil {
            throw ValidationError("--kafka-setting takes name=value, got \"\(setting)\".")
        }
    }

    func run() throws {
        if let kafka, let topic {
            try runKafka(brokers: kafka, topic: topic)
            return
        }
        do {
            let context = try ZMQContext()
            let socket = try ZMQSocket(context: context, type: .pub)
            defer {
                socket.close()
                context.terminate()
            }
            // PUB drops silently at the high-water mark; this tool sends a finite input, so queue it all, and
            // let close() deliver what is still queued (LINGER) before the process exits.
            try socket.setSendHighWaterMark(0)
            try socket.setLinger(milliseconds: 30_000)
            try curve.apply(to: socket)
            let watch = try ConnectionWatch(socket)
            defer { watch.close() }
            try socket.attach(endpoint, mode: mode)
            guard watch.update(waitingUpTo: Int(wait * 1000)) > 0 else {
                try? socket.setLinger(milliseconds: 0)
                writeStandardError(mode == .connect
                    ? "omen publish: nothing is connected: no daemon answered at \(endpoint) within \(wait) s; start "
                        + "`omen run` (its [[ingest]] endpoint) or pass --endpoint; nothing was sent"
                    : "omen publish: nothing is connected: no subscriber connected to \(endpoint) within \(wait) s; "
                        + "nothing was sent")
                throw ExitCode.failure
            }
            // Slow joiner: messages sent before the subscription reaches us are dropped.
            usleep(mode == .connect ? 300_000 : 1_000_000)
            let (records, messages) = demo ? try sendDemo(socket) : try sendLines(socket)
            if watch.update() == 0 {
                writeStandardError("omen publish: the peer at \(endpoint) went away while sending; some records may be lost")
            }
            writeStandardError("omen publish: sent \(records) records in \(messages) messages to \(endpoint)"
                + (pace > 0 ? " at up to \(Int(pace)) points/s" : ""))
        } catch let error as ZMQError {
            writeStandardError("omen publish: \(error)")
            throw ExitCode.failure
        } catch let error as MessagingError {
            writeStandardError("omen publish: \(error)")
            throw ExitCode.failure
        } catch let error as CurveError {
            writeStandardError("omen publish: \(error)")
            throw ExitCode.failure
        }
    }

    private func sendDemo(_ socket: ZMQSocket) throws -> (Int, Int) {
        let end = (Date().timeIntervalSince1970 / interval).rounded(.down) * interval
        let generator = DemoGenerator(series: series, points: points, interval: interval,
                                      start: end - Double(points - 1) * interval, seed: seed)
        for injection in generator.injections { writeStandardError("omen publish: \(injection)") }
        let encoder = PointEncoder(format: format.wire)
        var pacer = Pacer(rate: pace)
        var payload: [UInt8] = []
        var inPayload = 0, records = 0, messages = 0
        for point in generator {
            encoder.append(point, to: &payload)
            inPayload += 1
            if inPayload == batch {
                try socket.send(frames: [payload])
                records += inPayload
                messages += 1
                pacer.didSend(inPayload)
                payload.removeAll(keepingCapacity: true)
                inPayload = 0
            }
        }
        if inPayload > 0 {
            try socket.send(frames: [payload])
            records += inPayload
            messages += 1
        }
        return (records, messages)
    }

    private func sendLines(_ socket: ZMQSocket) throws -> (Int, Int) {
        var fd: Int32 = 0
        if let file, file != "-" {
            fd = open(file, O_RDONLY)
            if fd < 0 { throw MessagingError.unreadableInput(path: file, reason: String(cString: strerror(errno))) }
        }
        defer { if fd != 0 { close(fd) } }
        var reader = LineBatchReader(fd: fd, linesPerBatch: batch)
        var pacer = Pacer(rate: pace)
        var records = 0, messages = 0
        while let next = try reader.next() {
            try socket.send(frames: [next.payload])
            records += next.lines
            messages += 1
            pacer.didSend(next.lines)
        }
        return (records, messages)
    }
}

/// `--bind` / `--connect` on `omen publish` and `omen tail`.
extension SocketMode: EnumerableFlag {
    public static func help(for value: SocketMode) -> ArgumentHelp? {
        switch value {
        case .connect: return "Connect to the endpoint (the daemon binds; default)."
        case .bind: return "Bind the endpoint and let subscribers connect."
        }
    }
}

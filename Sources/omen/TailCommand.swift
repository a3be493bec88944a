// `omen tail`: print alerts from the daemon's alert PUB as they are published.
import ArgumentParser
import Detection
import Dispatch
import Foundation
import Messaging

/// Subscribes to the alert socket and prints each anomaly event as text or JSON.
struct TailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print anomaly alerts as the daemon publishes them.",
        discussion: """
            Subscribes to anomaly/ topics (anomaly/<open|update|close>/<series>). The alert socket drops messages for \
            subscribers that fall behind, so use `omen anomalies` for a complete history. Ctrl-C stops it. Exit \
            status 1 when --count alerts did not arrive within --timeout.
            """)

    /// Output layout of each alert.
    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(help: "Alert endpoint to subscribe to.")
    var endpoint = "tcp://127.0.0.1:7002"

    @Flag(help: "Connect to or bind the endpoint.")
    var mode: SocketMode = .connect

    @Option(help: "Only alerts for series whose key starts with this prefix.")
    var series: String?

    @Option(help: ArgumentHelp("Only alerts whose episode's peak had this cause (repeat for several): "
                               + "\(AnomalyCause.names).", valueName: "cause"))
    var cause: [String] = []

    @Option(help: "Output: text (one line per alert) or json (the alert body, one object per line).")
    var format: OutputFormat = .text

    @Option(help: "Exit after this many alerts.")
    var count: Int?

    @Option(help: "Exit after this many seconds.")
    var timeout: Double?

    @OptionGroup var curve: CurveClientOptions

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1.") }
        if let timeout, !(timeout > 0 && timeout.isFinite) { throw ValidationError("--timeout must be a positive number of seconds.") }
        do { _ = try AnomalyCause.parseArguments(cause) } catch { throw ValidationError(error.description + ".") }
    }

    func run() throws {
        let context: ZMQContext
        do { context = try ZMQContext() } catch { writeStandardError("omen tail: \(error)"); throw ExitCode.failure }
        // Ctrl-C or SIGTERM shut the context down, which wakes the blocked poll with ETERM: a clean exit.
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { context.shutdown() }
            source.resume()
            sources.append(source)
        }
        defer { for source in sources { source.cancel() } }
        let outcome: Int
        do {
            outcome = try tail(context)
        } catch {
            context.terminate()
            writeStandardError("omen tail: \(error)")
            throw ExitCode.failure
        }
        let interrupted = context.isShutDown
        context.terminate()
        if let count, outcome < count, timeout != nil, !interrupted {
            writeStandardError("omen tail: \(outcome) of \(count) alerts arrived within \(timeout ?? 0) s")
            throw ExitCode.failure
        }
    }

    /// Receives and prints alerts until the count, the timeout or a signal; returns how many were printed.
    private func tail(_ context: ZMQContext) throws -> Int {
        let socket = try ZMQSocket(context: context, type: .sub)
        defer { socket.close() }
        try socket.setLinger(milliseconds: 0)
        try curve.apply(to: socket)
        if let series {
            for kind in EpisodeEventKind.allCases {
                try socket.subscribe(prefix: AlertCodec.subscription(event: kind, seriesPrefix: series))
            }
        } else {
            try socket.subscribe(prefix: AlertCodec.topicPrefix)
        }
        try socket.attach(endpoint, mode: mode)
        let deadline = timeout.map { DispatchTime.now().uptimeNanoseconds + UInt64($0 * 1e9) }
        let buffer = ZMQMessageBuffer(initialCapacity: 4096)
        var printed = 0
        let causes = try AnomalyCause.parseArguments(cause)
        while count.map({ printed < $0 }) ?? true {
            var wait = 250
            if let deadline {
                let now = DispatchTime.now().uptimeNanoseconds
                if now >= deadline { break }
                wait = min(wait, Int((deadline - now) / 1_000_000) + 1)
            }
            var frames = 0
            do throws(ZMQError) {
                if try ZMQ.poll(sockets: [socket], timeoutMs: wait)[0] {
                    frames = try socket.receive(into: buffer, dontWait: true)
                }
            } catch {
                if error.isTerminated { break }
                throw error
            }
            guard frames >= 2 else { continue }
            let topic = Array(buffer.frame(0))
            let body = Array(buffer.lastFrame)
            let alert: Alert
            do {
                alert = try AlertCodec.decode(topic: topic, body: body)
            } catch {
                writeStandardError("omen tail: skipped a message: \(error)")
                continue
            }
            if let series, !alert.series.hasPrefix(series) { continue }
            if let causes, !(alert.cause.map { causes.contains($0) } ?? false) { continue }
            let line = format == .json ? String(decoding: body, as: UTF8.self) : AlertFormatter.text(alert)
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
            printed += 1
        }
        return printed
    }
}

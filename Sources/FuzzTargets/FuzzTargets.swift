// What the fuzzers feed: the three decoders that read bytes from outside the process. Each target runs one input
// through the real code and checks the invariants its output must keep; a crash, a trap or a broken invariant is
// a finding. `make fuzz` drives them with libFuzzer (-sanitize=fuzzer, coverage-guided); `make test` runs a
// bounded, seeded mutation of valid inputs through the same targets (FuzzTargetsTests).
import Configuration
import Detection
import Foundation
import Messaging
import Recurrent

/// The fuzzed decoders.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `PayloadParser.parse`: every wire format, auto-detected per record.
    case payload
    /// `ConfigLoader.parse`: the TOML reader, the key tables and the validation.
    case toml
    /// `SeriesDetector(key:config:checkpoint:)`: the checkpoint decoder, then a few points through what it restored.
    case checkpoint

    /// Runs one input; returns a description of a broken invariant, or nil. (A crash needs no return value.)
    public func run(_ bytes: UnsafeRawBufferPointer) -> String? {
        switch self {
        case .payload: return Self.payload(bytes)
        case .toml: return Self.toml(bytes)
        case .checkpoint: return Self.checkpoint(Array(bytes))
        }
    }

    /// Runs one input held in an array.
    public func run(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { run($0) }
    }

    /// Whether the decoder accepted the input (points parsed, a configuration loaded, a detector restored): a
    /// mutation run where nothing is ever accepted would test only the first bytes of each decoder.
    public func accepts(_ bytes: [UInt8]) -> Bool {
        switch self {
        case .payload:
            var parser = PayloadParser(maxFutureSeconds: 86_400)
            var points: [Point] = []
            return parser.parse(bytes, receivedAt: Self.receivedAt, into: &points).points > 0
        case .toml:
            guard let text = String(validating: bytes, as: UTF8.self) else { return false }
            return (try? ConfigLoader.parse(text, file: "fuzz.toml")) != nil
        case .checkpoint:
            return (try? SeriesDetector(key: Self.checkpointKey, config: Self.checkpointConfig, checkpoint: bytes))
                != nil
        }
    }

    // MARK: - Targets

    static let receivedAt = 1_800_000_000.0

    private static func payload(_ bytes: UnsafeRawBufferPointer) -> String? {
        var parser = PayloadParser(maxFutureSeconds: 86_400)
        var points: [Point] = []
        let summary = parser.parse(bytes, receivedAt: receivedAt, into: &points)
        if summary.points != points.count { return "summary.points \(summary.points) != \(points.count) points" }
        for point in points {
            if point.key.isEmpty || point.key.utf8.count > PayloadParser.maxKeyBytes {
                return "key length \(point.key.utf8.count)"
            }
            if SeriesKeyText.containsControl(point.key) {
                return "control character in key \(point.key.debugDescription)"
            }
            if !point.value.isFinite { return "non-finite value accepted" }
            if !(point.timestamp.isFinite && point.timestamp >= 0 && point.timestamp <= receivedAt + 86_400) {
                return "timestamp \(point.timestamp) accepted"
            }
        }
        if summary.samples.count > ParseSummary.maxSamples { return "\(summary.samples.count) samples kept" }
        return nil
    }

    private static func toml(_ bytes: UnsafeRawBufferPointer) -> String? {
        // The loader reads UTF-8 text (ConfigLoader.load refuses anything else before parsing).
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        do {
            let config = try ConfigLoader.parse(text, file: "fuzz.toml")
            if config.ingest.isEmpty { return "a configuration without ingest endpoints was accepted" }
        } catch {
            let lines = text.utf8.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            if let line = error.line, line < 1 || line > lines { return "error line \(line) outside 1...\(lines)" }
            if error.reason.isEmpty { return "an error without a reason" }
        }
        return nil
    }

    private static func checkpoint(_ bytes: [UInt8]) -> String? {
        guard let detector = try? SeriesDetector(key: checkpointKey, config: checkpointConfig, checkpoint: bytes) else {
            return nil
        }
        // What was restored must be usable: points through it, and its own checkpoint read back.
        var t = detector.lastTimestamp.isFinite ? detector.lastTimestamp : 0
        for i in 0..<3 {
            t = (t + 60).isFinite ? t + 60 : t
            _ = try? detector.process(timestamp: t, value: Double(i))
        }
        let again = detector.checkpoint()
        do {
            _ = try SeriesDetector(key: checkpointKey, config: checkpointConfig, checkpoint: again)
        } catch {
            return "a restored detector's own checkpoint does not read back: \(error)"
        }
        return nil
    }

    // MARK: - Seeds

    /// The series key and the (small) configuration of the checkpoint seeds.
    public static let checkpointKey = "fuzz.series"
    public static var checkpointConfig: DetectorConfig {
        var config = DetectorConfig()
        config.model.hiddenSize = 4
        config.model.training.epochs = 1
        config.model.training.sequenceLength = 16
        config.model.training.batchSize = 2
        config.learning.warmupPoints = 48
        config.learning.window = 64
        config.scoring.history = 64
        config.scoring.contextHistory = 8
        return config
    }

    /// Valid inputs to start from (libFuzzer's seed corpus; the mutation test's starting points).
    public func seeds() -> [[UInt8]] {
        switch self {
        case .payload:
            return [
                "web01.cpu.user 12.5 1700000000\nweb02.cpu 3\n",
                "cpu,host=web01,region=eu usage_user=12.5,usage_system=3i,ok=true,s=\"x y\" 1700000000000000000\n",
                #"{"series":"web01.cpu.user","value":12.5,"ts":1700000000.25}"# + "\n"
                    + #"{"key":"a\u00e9","value":-1e3,"time":"2026-11-27T10:00:00Z","x":[1,{"y":null}]}"#,
                "ESTP:web01.example.com:cpu:0:user: 2026-11-27T10:00:00Z 10 12.5\nESTP:h:a:r:c: 2026-11-27T10:00:10Z 10 5^\n  ext\n",
                "a 1 1\n# comment\r\n\tb 2 2\r\nm\\ x,t\\,a=b\\ c f\\=g=1 1\n",
            ].map { Array($0.utf8) }
        case .toml:
            return [
                "[daemon]\nlog_level = \"debug\"\nshards = 2\n\n[storage]\ndatabase = \"/tmp/x.db\"\nflush_interval = \"250ms\"\n",
                "[[ingest]]\nendpoint = \"tcp://127.0.0.1:7001\"\nformat = \"json\"\nsubscribe = [\"a\", \"b\"]\nreceive_hwm = 1_000\n\n[[ingest]]\nendpoint = \"ipc:///run/omen/in\"\n",
                "[learning]\nwarmup_points = 300 # comment\nwindow = 2000\n\n[[override]]\nseries = \"web*.cpu\"\nthreshold = 0.9\n",
                "[alerts]\nendpoints = ['tcp://127.0.0.1:7002', \"\"\"ipc:///x\"\"\"]\nsend_hwm = 1e4\n[security]\nallow_insecure = true\n",
                "[model]\ncell = \"gru\"\nhidden = 0x10\n[training]\nlearning_rate = 3e-3\nclip_norm = inf\n",
            ].map { Array($0.utf8) }
        case .checkpoint:
            return [Self.trainedCheckpoint(), Self.learningCheckpoint()]
        }
    }

    /// A checkpoint of a series with a trained model.
    static func trainedCheckpoint() -> [UInt8] {
        let detector = SeriesDetector(key: checkpointKey, config: checkpointConfig)
        for i in 0..<80 {
            _ = try? detector.process(timestamp: 1_700_000_000 + Double(i) * 60, value: sin(Double(i) / 5))
        }
        detector.install(detector.makeTrainingJob().run())
        for i in 80..<90 {
            _ = try? detector.process(timestamp: 1_700_000_000 + Double(i) * 60, value: sin(Double(i) / 5))
        }
        return detector.checkpoint()
    }

    /// A checkpoint of a series still learning (no model).
    static func learningCheckpoint() -> [UInt8] {
        let detector = SeriesDetector(key: checkpointKey, config: checkpointConfig)
        for i in 0..<10 { _ = try? detector.process(timestamp: Double(i), value: Double(i % 3)) }
        return detector.checkpoint()
    }
}

/// Seeded structure-blind mutations of valid inputs: byte flips, interesting bytes inserted, ranges deleted,
/// duplicated or spliced from another seed, numbers swapped for edge cases. Deterministic for a seed.
public struct ByteMutator {
    private var rng: SplitMix64
    private let seeds: [[UInt8]]

    /// Bytes that delimit or escape in some format, and ones that make invalid UTF-8 or controls.
    static let interesting: [UInt8] = [
        0x00, 0x0A, 0x0D, 0x09, 0x20, 0x22, 0x27, 0x5C, 0x2C, 0x3D, 0x3A, 0x7B, 0x7D,
        0x5B, 0x5D, 0x23, 0x2E, 0x2D, 0x2B, 0x65, 0x1B, 0x7F, 0x80, 0xC2, 0xED, 0xFF,
    ]
    static let tokens: [String] = [
        "1e999", "-0", "nan", "inf", "-Infinity", "0x1p3", "9223372036854775808",
        "1e-400", "00000000000000000000001", ".5", "5.", "\"5\"", "null", "true", "\\u0000",
        "\\ud800", "[[", "]]", "\"\"\"", "'''", "=", "ESTP:", "{\"series\":", "2026-02-30T25:61:61Z",
    ]

    public init(seed: UInt64, seeds: [[UInt8]]) {
        rng = SplitMix64(seed: seed)
        self.seeds = seeds
    }

    private mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }

    /// The next input: a seed with 1 to 8 mutations.
    public mutating func next() -> [UInt8] {
        var bytes = seeds[below(seeds.count)]
        for _ in 0...below(8) { mutate(&bytes) }
        return bytes
    }

    private mutating func mutate(_ bytes: inout [UInt8]) {
        let at = below(bytes.count + 1)
        switch below(8) {
        case 0 where !bytes.isEmpty:
            bytes[min(at, bytes.count - 1)] ^= UInt8(truncatingIfNeeded: 1 << below(8))
        case 1:
            bytes.insert(Self.interesting[below(Self.interesting.count)], at: at)
        case 2 where !bytes.isEmpty:
            let end = min(bytes.count, at + 1 + below(16))
            bytes.removeSubrange(min(at, bytes.count - 1)..<end)
        case 3 where !bytes.isEmpty:
            let start = min(at, bytes.count - 1)
            let chunk = Array(bytes[start..<min(bytes.count, start + 1 + below(32))])
            bytes.insert(contentsOf: chunk, at: below(bytes.count + 1))
        case 4:
            let other = seeds[below(seeds.count)]
            guard !other.isEmpty else { return }
            let start = below(other.count)
            bytes.insert(contentsOf: other[start..<min(other.count, start + 1 + below(64))], at: at)
        case 5:
            // Replace a run of digits (or insert) with an edge-case token.
            var end = at
            while end < bytes.count && (bytes[end] >= 0x30 && bytes[end] <= 0x39) { end += 1 }
            bytes.replaceSubrange(at..<end, with: Array(Self.tokens[below(Self.tokens.count)].utf8))
        case 6 where bytes.count > 1:
            bytes.removeSubrange(below(bytes.count)...)
        default:
            bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
        }
    }
}

// swift-tools-version:6.0
// Omen: anomaly detection for streaming time series with per-series recurrent models.
import PackageDescription

let package = Package(
    name: "omen",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "omen", targets: ["omen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // Self-metrics: the registry and text exposition (swift-prometheus over swift-metrics), served by
        // SwiftNIO's HTTP/1 pipeline (the lightest HTTP listener in the mirror to build).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // Dependencies point down: Recurrent <- Detection <- History, Messaging, Replay. Configuration reads
        // omen.toml into Detection's and Messaging's types, Daemon runs them, Bench measures, omen parses flags.
        // Each target's list is exactly what its files import.

        // libzmq, from Debian's libzmq3-dev (see Sources/CZeroMQ/module.modulemap).
        .systemLibrary(name: "CZeroMQ"),
        // librdkafka, from Debian's librdkafka-dev, with its mock cluster (see Sources/CKafka/module.modulemap).
        .systemLibrary(name: "CKafka"),
        // Header-only C helpers Swift cannot spell (software prefetch, the int8 AVX2 kernels).
        .target(name: "COmenSupport"),
        // The maths: LSTM / GRU / RNN cells, truncated BPTT, Adam, compact inference. Pure values, no I/O.
        .target(name: "Recurrent", dependencies: ["COmenSupport"]),
        // One series at a time: features, model step, residual, scoring, episodes.
        .target(name: "Detection", dependencies: ["Recurrent", "COmenSupport"]),
        // SQLite: schema, migrations, batched writes, named queries.
        .target(name: "History", dependencies: [
            "Detection",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // libzmq and librdkafka wrappers and the wire formats in (graphite, influx, json, estp) and out (alerts).
        .target(name: "Messaging", dependencies: ["CZeroMQ", "CKafka", "Detection"]),
        // `omen replay`: CSV in, the same per-series detector, scores CSV and SVG plot out.
        .target(name: "Replay", dependencies: ["Detection"]),
        // omen.toml: the TOML reader, the key tables (read, clamp, validate), the config structs, reloads.
        .target(name: "Configuration", dependencies: [
            "Detection", "Messaging", "Recurrent",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The running daemon: ingest, shards, trainer pool, writer, lifecycle (signals, systemd notify).
        .target(name: "Daemon", dependencies: [
            "Configuration", "Detection", "History", "Messaging",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // `omen bench`: the engine, detector, scoring, parser, store and whole-pipeline benchmarks.
        .target(name: "Bench", dependencies: [
            "Configuration", "Daemon", "Detection", "History", "Messaging", "Recurrent",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The decoders that read outside bytes (payloads, omen.toml, checkpoints) as fuzz targets, with a mutator.
        .target(name: "FuzzTargets", dependencies: ["Configuration", "Detection", "Messaging", "Recurrent"]),
        // libFuzzer entry point over FuzzTargets (`make fuzz`); a plain build is a replayer of saved inputs.
        .executableTarget(name: "omen-fuzz", dependencies: ["FuzzTargets"]),
        // The executable: argument parsing and printing only.
        .executableTarget(name: "omen", dependencies: [
            "Bench", "Configuration", "Daemon", "Detection", "History", "Messaging", "Recurrent", "Replay",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "RecurrentTests", dependencies: ["Recurrent", "COmenSupport"]),
        .testTarget(name: "DetectionTests", dependencies: ["Detection", "Recurrent"]),
        .testTarget(name: "HistoryTests", dependencies: [
            "History", "Detection", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "MessagingTests", dependencies: ["Messaging", "Detection", "CZeroMQ"]),
        .testTarget(name: "ReplayTests", dependencies: ["Replay", "Detection"]),
        .testTarget(name: "ConfigurationTests", dependencies: ["Configuration", "Detection", "Messaging", "Recurrent"]),
        .testTarget(name: "DaemonTests", dependencies: [
            "Daemon", "Configuration", "Bench", "Detection", "History", "Messaging",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "BenchTests", dependencies: [
            "Bench", "Detection", "History", "Messaging", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets"]),
    ],
    swiftLanguageModes: [.v6]
)

// Warnings are errors in the project's own Swift targets (no run-time cost). Dependencies are built with their own
// settings, so a warning in one of them cannot break this build.
for target in package.targets where target.type != .system && target.name != "COmenSupport" {
    target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-warnings-as-errors"])]
}

// The per-point path (Detection, Recurrent) skips Swift's run-time exclusivity checks in the shipped build: each
// access to a class's stored property there called into the runtime's access set, and non-mutating calls on those
// properties copied them (a retain of cold buffers): 8-17% of `omen bench detect` (docs/measurements.md). The
// compile-time checks stay, and `make test` builds with the run-time checks back on (TEST_FLAGS), so the whole
// suite still traps on an overlapping access.
for target in package.targets where ["Detection", "Recurrent"].contains(target.name) {
    target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
}

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
    ],
    targets: [
        // libzmq, from Debian's libzmq3-dev (see Sources/CZeroMQ/module.modulemap).
        .systemLibrary(name: "CZeroMQ"),
        // librdkafka, from Debian's librdkafka-dev, with its mock cluster (see Sources/CKafka/module.modulemap).
        .systemLibrary(name: "CKafka"),
        // The maths: LSTM / GRU / RNN cells, truncated BPTT, Adam. Pure values, no I/O.
        // Header-only C helpers Swift cannot spell (software prefetch).
        .target(name: "COmenSupport"),
        .target(name: "Recurrent", dependencies: ["COmenSupport"]),
        // One series at a time: features, model step, residual, scoring, episodes.
        .target(name: "Detection", dependencies: ["Recurrent"]),
        // SQLite: schema, migrations, batched writes, named queries.
        .target(name: "History", dependencies: [
            "Detection",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // libzmq and librdkafka wrappers and the wire formats in (graphite, influx, json, estp) and out (alerts).
        .target(name: "Messaging", dependencies: ["CZeroMQ", "CKafka", "Detection"]),
        // `omen replay`: CSV in, the same per-series detector, scores CSV and SVG plot out.
        .target(name: "Replay", dependencies: ["Detection"]),
        // Configuration, shards, trainer pool, writer, lifecycle (signals, systemd notify), benchmarks.
        .target(name: "Daemon", dependencies: [
            "Recurrent", "Detection", "History", "Messaging", "Replay",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The executable: argument parsing only.
        .executableTarget(name: "omen", dependencies: [
            "Daemon", "History", "Messaging", "Replay", "Detection", "Recurrent",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "RecurrentTests", dependencies: ["Recurrent"]),
        .testTarget(name: "DetectionTests", dependencies: ["Detection", "Recurrent"]),
        .testTarget(name: "HistoryTests", dependencies: [
            "History", "Detection", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "MessagingTests", dependencies: ["Messaging", "Detection", "CZeroMQ"]),
        .testTarget(name: "ReplayTests", dependencies: ["Replay", "Detection"]),
        .testTarget(name: "DaemonTests", dependencies: [
            "Daemon", "History", "Messaging", "Detection", "CZeroMQ",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)

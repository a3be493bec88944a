import Logging
import Synchronization

/// The process-wide log level, changeable at run time (SIGHUP reload), read by every `ReloadableLogHandler`.
public final class ReloadableLogLevel: Sendable {
    private let raw: Atomic<Int>

    public init(_ level: Logger.Level) { raw = Atomic(Self.index(level)) }

    public var level: Logger.Level {
        get { Logger.Level.allCases[raw.load(ordering: .relaxed)] }
    }

    public func set(_ level: Logger.Level) { raw.store(Self.index(level), ordering: .relaxed) }

    private static func index(_ level: Logger.Level) -> Int { Logger.Level.allCases.firstIndex(of: level) ?? 2 }
}

/// Writes to standard error (journald under systemd) at the shared, reloadable level.
public struct ReloadableLogHandler: LogHandler {
    private var inner: StreamLogHandler
    private let shared: ReloadableLogLevel

    public init(label: String, level: ReloadableLogLevel) {
        inner = StreamLogHandler.standardError(label: label)
        shared = level
    }

    public var logLevel: Logger.Level {
        get { shared.level }
        set { shared.set(newValue) }
    }

    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        guard event.level >= shared.level else { return }
        inner.log(event: event)
    }
}

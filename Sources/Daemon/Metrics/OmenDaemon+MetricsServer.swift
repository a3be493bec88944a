import Configuration
import Foundation
import Messaging
import NIOHTTP1

extension OmenDaemon {
    /// Binds the `[metrics] listen` address, when set: `GET /metrics` and `GET /health`.
    func startMetricsServer() throws(DaemonError) {
        guard let address = config.metrics.address else { return }
        let server: MetricsServer
        do {
            server = try MetricsServer(host: address.host, port: address.port) { [weak self] method, uri in
                guard let self else {
                    return MetricsResponse(status: .serviceUnavailable, contentType: "text/plain", body: Array("stopping\n".utf8))
                }
                return self.respond(method: method, uri: uri)
            }
        } catch {
            throw .metrics("\(config.metrics.listen): \(error)")
        }
        metricsServer.value = server
    }

    /// Closes the listener (last, after the pipeline drained: a scrape during shutdown still answers).
    func stopMetricsServer() {
        let server = metricsServer.value
        metricsServer.value = nil
        server?.stop()
    }

    /// The metrics listener's answer to one request.
    func respond(method: HTTPMethod, uri: String) -> MetricsResponse {
        guard method == .GET || method == .HEAD else {
            return MetricsResponse(status: .methodNotAllowed, contentType: "text/plain; charset=utf-8",
                                   body: Array("only GET and HEAD\n".utf8))
        }
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        switch path {
        case "/metrics":
            return MetricsResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8",
                                   body: renderMetrics())
        case "/health", "/healthz":
            let healthy = isHealthy(now: monotonicSeconds(), stale: max(10, 3 * config.pipeline.statsInterval))
            return MetricsResponse(status: healthy ? .ok : .serviceUnavailable,
                                   contentType: "text/plain; charset=utf-8",
                                   body: Array((healthy ? "ok\n" : "unhealthy: a pipeline thread has not looped recently\n").utf8))
        case "/":
            return MetricsResponse(status: .ok, contentType: "text/plain; charset=utf-8",
                                   body: Array("omen \(OmenVersion.string): /metrics (Prometheus text), /health\n".utf8))
        default:
            return MetricsResponse(status: .notFound, contentType: "text/plain; charset=utf-8",
                                   body: Array("not found; try /metrics or /health\n".utf8))
        }
    }
}

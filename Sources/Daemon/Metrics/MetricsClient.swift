import NIOCore
import NIOHTTP1
import NIOPosix

/// Why the metrics endpoint could not be read.
public struct MetricsClientError: Error, CustomStringConvertible {
    public var description: String
}

/// Reads one URL path of a metrics listener over HTTP/1.1 (SwiftNIO's client pipeline), for `omen status`.
public enum MetricsClient {
    /// The status code and body of `GET path` at `host:port`; throws when nothing answers within `timeout` seconds.
    public static func get(host: String, port: Int, path: String, timeout: Double = 5) throws -> (status: Int, body: String) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let promise = group.next().makePromise(of: (Int, [UInt8]).self)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(Int64(timeout * 1000)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                }
            }
        let channel: any Channel
        do {
            channel = try bootstrap.connect(host: host, port: port).wait()
        } catch {
            promise.fail(error)
            throw MetricsClientError(description: "nothing answers at http://\(host):\(port) (\(error)); is the daemon "
                + "running, and is [metrics] listen set to this address?")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(host):\(port)")
        headers.add(name: "Connection", value: "close")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let deadline = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) {
            promise.fail(MetricsClientError(description: "http://\(host):\(port)\(path) did not answer within \(timeout) s"))
        }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        do {
            let (status, body) = try promise.futureResult.wait()
            return (status, String(decoding: body, as: UTF8.self))
        } catch let error as MetricsClientError {
            throw error
        } catch {
            throw MetricsClientError(description: "reading http://\(host):\(port)\(path) failed: \(error)")
        }
    }
}

/// Collects one response and completes the promise at its end (or fails it if the connection closes first).
private final class ResponseCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<(Int, [UInt8])>
    private var status = 0
    private var body: [UInt8] = []

    init(promise: EventLoopPromise<(Int, [UInt8])>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = Int(head.status.code)
        case .body(var buffer): body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end: promise.succeed((status, body))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(MetricsClientError(description: "the connection closed before a whole response arrived"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}

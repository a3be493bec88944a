import NIOCore
import NIOHTTP1
import NIOPosix

/// A response of the metrics listener.
struct MetricsResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]
}

/// The HTTP listener of `/metrics` and `/health`: SwiftNIO's HTTP/1 server pipeline on one event-loop thread.
///
/// NIO parses the requests; `respond` turns a method and a path into a response on the event-loop thread, so it
/// must be quick (a scrape reads atomic counters and renders text).
final class MetricsServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    /// The address actually bound (the port is the chosen one when 0 was asked for).
    let boundPort: Int

    /// Binds `host:port` and starts serving; throws why it could not bind.
    init(host: String, port: Int, respond: @escaping @Sendable (HTTPMethod, String) -> MetricsResponse) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(respond: respond))
                }
            }
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 1)
        do {
            channel = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        self.group = group
        boundPort = channel.localAddress?.port ?? port
    }

    /// Closes the listener and stops its thread.
    func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// Answers each request once its end has arrived; the body of a request is ignored.
private final class MetricsHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let respond: @Sendable (HTTPMethod, String) -> MetricsResponse
    private var head: HTTPRequestHead?

    init(respond: @escaping @Sendable (HTTPMethod, String) -> MetricsResponse) {
        self.respond = respond
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break
        case .end:
            guard let request = head else { return }
            head = nil
            let response = respond(request.method, request.uri)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: response.contentType)
            headers.add(name: "Content-Length", value: String(response.body.count))
            let keepAlive = request.isKeepAlive
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: response.status,
                                                                 headers: headers))), promise: nil)
            if request.method != .HEAD {
                var buffer = context.channel.allocator.buffer(capacity: response.body.count)
                buffer.writeBytes(response.body)
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            }
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { channel.close(promise: nil) }
            }
        }
    }
}

import Foundation

/// A bound AF_UNIX datagram socket standing in for systemd's notify socket; an end-to-end test can start the
/// daemon with NOTIFY_SOCKET=`address` and read `READY=1` with `receive()`.
final class SystemdTestNotifySocket {
    let fd: Int32
    /// What to put in NOTIFY_SOCKET: a path, or "@name" for an abstract socket.
    let address: String
    private let directory: URL?

    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var path: [UInt8]
        if abstract {
            address = "@omen-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            path = Array(address.utf8)
            path[0] = 0
            directory = nil
        } else {
            let dir = try ConfigTestSupport.makeTempDirectory("notify")
            directory = dir
            address = dir.appendingPathComponent("notify.sock").path
            path = Array(address.utf8)
        }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: path) }
        let length = socklen_t((MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2) + path.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(.init(rawValue: code) ?? .EIO)
        }
    }

    /// The next datagram, or nil after `timeoutMilliseconds` (a send is synchronous, so a message from this process
    /// is already queued; a daemon process may need longer to get ready).
    func receive(timeoutMilliseconds: Int32 = 1000) -> String? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeoutMilliseconds) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return n >= 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }

    /// True when nothing is waiting.
    func isEmpty() -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) == 0
    }

    deinit {
        close(fd)
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }
}

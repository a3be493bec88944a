// One daemon per database, and that database only.
//
// Two daemons on one file both loaded the same models and overwrote each other's checkpoints; a deleted or
// replaced file went on being written as an unlinked inode until the exit, losing all history without a word.
// The lock is an flock(2) on a file beside the database: the kernel drops it when the process dies, even by
// SIGKILL, so a crash never leaves a stale lock behind.
import Foundation

/// An exclusive lock on `DATABASE.lock`, held for the life of the daemon.
final class DatabaseLock: Sendable {
    /// The lock file, named in every message about it.
    let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// The lock file's path for a database path.
    static func path(for database: String) -> String { database + ".lock" }

    /// Takes the lock without waiting, or says who holds it. Writes this process id into the file (for people:
    /// the lock itself is the flock, not the contents).
    static func acquire(database: String) throws(DaemonError) -> DatabaseLock {
        let path = path(for: database)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .ownership(
                "cannot create the lock file \(path) beside the database: \(String(cString: strerror(errno))); "
                    + "the database's directory must be writable by the daemon")
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            let holder = readHolder(fd)
            close(fd)
            if code == EWOULDBLOCK {
                throw .ownership(
                    "another omen daemon\(holder.map { " (pid \($0))" } ?? "") holds the lock \(path) on "
                        + "\(database); two daemons cannot share a database: stop the other one, or give this one another --database"
                )
            }
            throw .ownership("cannot lock \(path): \(String(cString: strerror(code)))")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return DatabaseLock(path: path, fd: fd)
    }

    private static func readHolder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    deinit { close(fd) }
}

/// Which file a path named when the daemon opened it (device and inode), to notice it being deleted or replaced.
struct FileIdentity: Sendable, Equatable {
    let device: UInt64
    let inode: UInt64

    /// The identity of the file at `path` now, or why there is none.
    static func of(_ path: String) -> Result<FileIdentity, FileIdentityProblem> {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            return .failure(code == ENOENT ? .deleted : .unreadable(String(cString: strerror(code))))
        }
        return .success(FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)))
    }

    /// nil while `path` still names this file; otherwise what happened to it, as a sentence.
    func problem(at path: String) -> String? {
        switch Self.of(path) {
        case .success(let now) where now == self: return nil
        case .success: return "the database file \(path) was replaced by another file while the daemon ran"
        case .failure(.deleted): return "the database file \(path) was deleted while the daemon ran"
        case .failure(.unreadable(let why)): return "the database file \(path) can no longer be checked: \(why)"
        }
    }
}

/// Why a path has no file identity.
enum FileIdentityProblem: Error, Equatable {
    case deleted
    case unreadable(String)
}

/// Ignores SIGPIPE for the whole process: writing a log line to a pipe whose reader has gone (`omen run | tee log`
/// and Ctrl-C) must fail with EPIPE, which the writers ignore, rather than kill the daemon before its checkpoints.
func ignoreBrokenPipes() {
    signal(SIGPIPE, SIG_IGN)
}

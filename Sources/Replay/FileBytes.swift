// Whole-file reads and writes through the C library, so failures carry the system's reason (ENOENT, EACCES…).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file operation that failed, with the system's reason.
struct FileFailure: Error, CustomStringConvertible {
    var description: String
}

/// Whole-file byte I/O.
enum FileBytes {
    static func read(_ path: String) throws(FileFailure) -> [UInt8] {
        guard let f = fopen(path, "rb") else { throw FileFailure(description: reason()) }
        defer { fclose(f) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n > 0 { out.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count {
                if ferror(f) != 0 { throw FileFailure(description: reason()) }
                break
            }
        }
        return out
    }

    static func write(_ path: String, _ bytes: [UInt8]) throws(FileFailure) {
        guard let f = fopen(path, "wb") else { throw FileFailure(description: reason()) }
        let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let closed = fclose(f)
        guard n == bytes.count, closed == 0 else { throw FileFailure(description: reason()) }
    }

    private static func reason() -> String {
        guard let s = strerror(errno) else { return "error \(errno)" }
        return String(cString: s)
    }
}

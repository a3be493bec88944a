import Foundation

/// Writes one line to standard error (unbuffered, so it interleaves correctly with other output).
func writeStandardError(_ line: String) {
    // `write(contentsOf:)` throws on EPIPE where `write(_:)` would trap; a closed stderr loses the line, no more.
    try? FileHandle.standardError.write(contentsOf: Data((line + "\n").utf8))
}

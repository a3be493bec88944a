import Foundation

/// Writes one line to standard error (unbuffered, so it interleaves correctly with other output).
func writeStandardError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

import Foundation
// `omen-fuzz`: libFuzzer entry point for the decoders in FuzzTargets.
//
// Built by `make fuzz` with `-sanitize=fuzzer -D OMEN_LIBFUZZER` (libFuzzer brings its own main, coverage and
// mutations); `OMEN_FUZZ_TARGET` (payload, toml, checkpoint) picks the decoder. A normal build (make test) makes
// a replayer instead: `omen-fuzz TARGET FILE...` runs saved inputs (crash reproducers, a corpus) through it, and
// `omen-fuzz TARGET --seeds DIR` writes the seed corpus.
import FuzzTargets

/// The decoder chosen at start (libFuzzer calls the entry point from one thread at a time).
nonisolated(unsafe) private var selected: FuzzTarget = .payload

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> Int32 {
    let name = ProcessInfo.processInfo.environment["OMEN_FUZZ_TARGET"] ?? "payload"
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(
            Data("OMEN_FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue))\n".utf8))
        exit(2)
    }
    selected = target
    // `make fuzz` passes the corpus directory here so that a fresh corpus starts from the valid seeds.
    if let directory = ProcessInfo.processInfo.environment["OMEN_FUZZ_SEEDS"] {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (i, seed) in target.seeds().enumerated() {
            let path = "\(directory)/seed-\(i)"
            if !FileManager.default.fileExists(atPath: path) {
                _ = FileManager.default.createFile(atPath: path, contents: Data(seed))
            }
        }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    if let broken = selected.run(bytes) {
        FileHandle.standardError.write(Data("invariant broken (\(selected.rawValue)): \(broken)\n".utf8))
        abort()
    }
    return 0
}

#if OMEN_LIBFUZZER
// SwiftPM links an executable with `main` defined as `<module>_main`, so libFuzzer's own main is not pulled in:
// this one hands over to libFuzzer's driver (LLVMFuzzerRunDriver, libFuzzer's API for a program's own main).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

@_cdecl("omen_fuzz_main")
public func omenFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector) { data, size in fuzzTestOneInput(data, size) }
}
#else
@main
struct FuzzReplay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let first = arguments.first, let target = FuzzTarget(rawValue: first) else {
            print("usage: omen-fuzz payload|toml|checkpoint FILE... | --seeds DIR")
            exit(2)
        }
        if arguments.count == 3 && arguments[1] == "--seeds" {
            try? FileManager.default.createDirectory(atPath: arguments[2], withIntermediateDirectories: true)
            for (i, seed) in target.seeds().enumerated() {
                _ = FileManager.default.createFile(atPath: "\(arguments[2])/seed-\(i)", contents: Data(seed))
            }
            return
        }
        var failures = 0
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): unreadable")
                failures += 1
                continue
            }
            if let broken = target.run(Array(data)) {
                print("\(path): \(broken)")
                failures += 1
            }
        }
        print("\(arguments.count - 1) inputs, \(failures) failures")
        exit(failures == 0 ? 0 : 1)
    }
}
#endif

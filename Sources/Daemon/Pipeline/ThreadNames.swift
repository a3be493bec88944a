import Foundation

/// Names the calling thread for the kernel (`top -H`, `ps -L`, `perf`, /proc/<pid>/task/*/comm): Foundation's
/// `Thread.name` on Linux does not reach the kernel's name. At most 15 bytes are kept. glibc's
/// pthread_setname_np is not exported to Swift's Glibc module (it needs _GNU_SOURCE), so it is looked up.
func nameCurrentThread(_ name: String) {
    typealias SetName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32
    guard let symbol = dlsym(nil, "pthread_setname_np") else { return }
    let short = String(decoding: name.utf8.prefix(15), as: UTF8.self)
    _ = short.withCString { unsafeBitCast(symbol, to: SetName.self)(pthread_self(), $0) }
}

/// CPU seconds (user + system) used so far by each thread of this process, by kernel thread name; threads of
/// the same role (`omen-shard-0`, `omen-shard-1`) are summed under the name without its trailing number.
package func cpuSecondsByThreadRole() -> [String: Double] {
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    var roles: [String: Double] = [:]
    guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return roles }
    for task in tasks {
        guard let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
        var name = String(stat[stat.index(after: open)..<close])
        // Fields after the name: state is field 3, utime 14, stime 15 (1-based over the whole line).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
        while let last = name.last, last.isNumber || last == "-" { name.removeLast() }
        if !name.hasPrefix("omen-") { name = name.hasPrefix("ZMQbg") ? "zmq-io" : "other" }
        roles[name, default: 0] += (user + system) / ticks
    }
    return roles
}

import Detection
import Foundation
import Testing
@testable import Messaging

@Suite struct SeriesKeyTableTests {
    static func intern(_ table: SeriesKeyTable, _ key: String) -> (key: String, id: UInt32) {
        let bytes = Array(key.utf8)
        return bytes.withUnsafeBufferPointer { b in table.intern(b.baseAddress ?? UnsafePointer(bitPattern: 1)!, b.count) }
    }

    /// A repeated key gets the id it got the first time; distinct keys get distinct dense ids.
    @Test func repeatedKeysKeepTheirID() {
        let table = SeriesKeyTable()
        let a = Self.intern(table, "web01.cpu.user")
        let b = Self.intern(table, "web01.cpu.system")
        let again = Self.intern(table, "web01.cpu.user")
        #expect(a.id == 0 && b.id == 1 && again.id == 0)
        #expect(again.key == "web01.cpu.user" && b.key == "web01.cpu.system")
        #expect(table.count == 2)
    }

    /// Keys that differ only in their last byte, in length, or past the first 8 bytes are told apart.
    @Test func nearKeysAreDistinct() {
        let table = SeriesKeyTable()
        let keys = ["a", "ab", "abcdefgh", "abcdefgi", "abcdefghX", "abcdefgh.long.series.key.1", "abcdefgh.long.series.key.2", ""]
        let ids = keys.map { Self.intern(table, $0).id }
        #expect(Set(ids).count == keys.count)
        for (key, id) in zip(keys, ids) { #expect(Self.intern(table, key).id == id, "\(key)") }
    }

    /// Growing the index past its first size keeps every key at its id, and routes are the stable FNV-1a hash.
    @Test func growthKeepsIDsAndRoutes() {
        let table = SeriesKeyTable()
        let keys = (0..<5_000).map { "host\($0 / 100).metric\($0 % 100)" }
        for (i, key) in keys.enumerated() { #expect(Self.intern(table, key).id == UInt32(i)) }
        var wrong = 0
        for (i, key) in keys.enumerated().reversed() where Self.intern(table, key).id != UInt32(i) { wrong += 1 }
        #expect(wrong == 0 && table.count == keys.count)
        #expect(table.routes[4_321] == stableHash(keys[4_321]))
        // FNV-1a of "a" is the published 0xaf63dc4c8601ec8c; pinned (with the mixer) so routing cannot drift.
        #expect(stableHash("a") == fmix64(0xaf63_dc4c_8601_ec8c))
        // The low bit (the shard of two) is balanced even where FNV-1a's alone is constant: keys that repeat
        // their varying part have the same byte parity, and raw FNV-1a would route all of them to one shard.
        let odd = (0..<1_000).filter { stableHash("rack\($0).node\($0)") % 2 == 1 }.count
        #expect(odd > 400 && odd < 600)
    }

    /// Past `maxKeys` a new key is still returned (points are not lost) but gets no id; known keys keep theirs.
    @Test func fullTableStillReturnsKeys() {
        let table = SeriesKeyTable(maxKeys: 2)
        _ = Self.intern(table, "a")
        _ = Self.intern(table, "b")
        let c = Self.intern(table, "c")
        #expect(c.key == "c" && c.id == Point.noSeriesID)
        #expect(Self.intern(table, "b").id == 1 && table.count == 2)
    }

    /// Parsers of one ingest thread share a table, so a series has one id across endpoints and formats; the
    /// parsed points still compare equal to points built from the key alone.
    @Test func parsersShareIDs() {
        let table = SeriesKeyTable()
        var graphite = PayloadParser(format: .graphite, keys: table)
        var json = PayloadParser(format: .json, keys: table)
        var points: [Point] = []
        let g = Array("web01.cpu 1.5 1700000000\nweb02.cpu 2 1700000000\n".utf8)
        let j = Array(#"{"series":"web02.cpu","value":3,"timestamp":1700000001}"#.utf8 + [0x0A])
        _ = g.withUnsafeBytes { graphite.parse($0, receivedAt: 1_700_000_100, into: &points) }
        _ = j.withUnsafeBytes { json.parse($0, receivedAt: 1_700_000_100, into: &points) }
        #expect(points.count == 3)
        #expect(points.map(\.seriesID) == [0, 1, 1])
        #expect(points[0] == Point(key: "web01.cpu", timestamp: 1_700_000_000, value: 1.5))
    }

    /// A record rejected for its value or timestamp does not add its key to the table.
    @Test func rejectedRecordsAddNoKey() {
        let table = SeriesKeyTable()
        var parser = PayloadParser(format: .graphite, keys: table)
        var points: [Point] = []
        let payload = Array("bad.value nan 1700000000\nbad.time 1 -5\ngood 1 1700000000\n".utf8)
        let summary = payload.withUnsafeBytes { parser.parse($0, receivedAt: 1_700_000_100, into: &points) }
        #expect(summary.rejected == 2 && points.count == 1)
        #expect(table.count == 1 && table.keys == ["good"])
    }
}

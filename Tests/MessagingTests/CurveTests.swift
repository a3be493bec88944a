import CZeroMQ
import Foundation
import Testing

@testable import Messaging

@Suite(.serialized) struct CurveTests {
    func tempDir() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "omen-curve-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    /// libzmq here has CURVE; a generated pair is saved as NAME.cert (0644, no secret) and NAME.cert_secret (0600)
    /// and reads back; a second save refuses to overwrite.
    @Test func generateSaveLoad() throws {
        #expect(CurveCertificate.isSupported)
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pair = try CurveCertificate.generate(name: "web01")
        let paths = try pair.save(directory: dir, name: "web01")
        var info = stat()
        #expect(stat(paths.secretPath, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(stat(paths.publicPath, &info) == 0 && info.st_mode & 0o777 == 0o644)
        let secret = try CurveCertificate.load(path: paths.secretPath, requireSecret: true)
        #expect(secret == pair)
        let publicOnly = try CurveCertificate.load(path: paths.publicPath, requireSecret: false)
        #expect(publicOnly.publicKey == pair.publicKey && publicOnly.secretKey == nil && publicOnly.name == "web01")
        #expect(!(try String(contentsOfFile: paths.publicPath, encoding: .utf8)).contains(pair.secretKey?.z85 ?? "?"))
        #expect(throws: CurveError.exists(paths.publicPath)) { try pair.save(directory: dir, name: "web01") }
    }

    /// A secret key readable by group or others, a public certificate given as the secret, a missing file and a
    /// key that is not Z85 are refused with a sentence naming the file.
    @Test func badKeyFilesRefused() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let paths = try CurveCertificate.generate().save(directory: dir, name: "k")
        chmod(paths.secretPath, 0o640)
        #expect(throws: CurveError.tooOpen(paths.secretPath, "640")) {
            try CurveCertificate.load(path: paths.secretPath, requireSecret: true)
        }
        #expect(CurveError.tooOpen(paths.secretPath, "640").description.contains("chmod 600"))
        chmod(paths.publicPath, 0o600)
        #expect(throws: CurveError.self) { try CurveCertificate.load(path: paths.publicPath, requireSecret: true) }
        #expect(throws: CurveError.self) { try CurveCertificate.load(path: dir + "/missing", requireSecret: true) }
        let bad = dir + "/bad.cert"
        try "curve\n    public-key = \"not a key\"\n".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(throws: CurveError.self) { try CurveCertificate.load(path: bad, requireSecret: false) }
    }

    /// A certificate as CZMQ's zcert_save writes it (header comments, metadata, single or double quotes) parses.
    @Test func readsCZMQCertificates() throws {
        let text = """
            #   ****  Generated on 2026-12-06 10:00:00 by CZMQ  ****
            #   ZeroMQ CURVE **Secret** Certificate
            #   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

            metadata
                name = "client one"
                email = 'ops@example.com'
            curve
                public-key = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
                secret-key = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
            """
        let certificate = try CurveCertificate.parse(text, source: "x")
        #expect(certificate.publicKey.z85 == "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID")
        #expect(certificate.secretKey?.z85 == "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs")
        #expect(certificate.name == "client one")
        #expect(CurveKey(bytes: certificate.publicKey.bytes) == certificate.publicKey)
    }

    /// Ingest direction: a CURVE SUB server with a ZAP handler receives an allowed client's messages and none from
    /// an unlisted key or a client without CURVE; the handler counts the allowed client and the refusals.
    @Test func zapHandlerAuthorisesOnlyListedKeys() throws {
        let server = try CurveCertificate.generate()
        let allowed = try CurveCertificate.generate()
        let stranger = try CurveCertificate.generate()
        let list = CurveAllowList([("allowed", allowed.publicKey)])
        let decisions = Box<[ZAPDecision]>([])
        let context = try ZMQContext()
        let zap = ZAPHandler(context: context, allowList: list, domain: "omen") { d in decisions.value.append(d) }
        try zap.start()
        let sub = try ZMQSocket(context: context, type: .sub)
        try sub.makeCurveServer(server, domain: "omen")
        try sub.subscribe()
        try sub.bind("tcp://127.0.0.1:*")
        let endpoint = try #require(sub.lastEndpoint)

        let clients = try ZMQContext()
        func publisher(_ key: CurveCertificate?, tag: String) throws -> ZMQSocket {
            let pub = try ZMQSocket(context: clients, type: .pub)
            try pub.setLinger(milliseconds: 0)
            if let key { try pub.makeCurveClient(key, server: server.publicKey) }
            try pub.connect(endpoint)
            return pub
        }
        let good = try publisher(allowed, tag: "good")
        let bad = try publisher(stranger, tag: "bad")
        let plain = try publisher(nil, tag: "plain")
        var got: Set<String> = []
        let buffer = ZMQMessageBuffer()
        for _ in 0..<200 where !got.contains("good") {
            for (pub, tag) in [(good, "good"), (bad, "bad"), (plain, "plain")] {
                _ = try pub.send(strings: [tag], dontWait: true)
            }
            if try ZMQ.poll(sockets: [sub], timeoutMs: 20) == [true] {
                while try sub.receive(into: buffer, dontWait: true) > 0 {
                    got.insert(String(decoding: buffer.lastFrame, as: UTF8.self))
                }
            }
        }
        // Keep sending a while: the refused ones must still never arrive.
        for _ in 0..<20 {
            for (pub, tag) in [(bad, "bad"), (plain, "plain")] { _ = try pub.send(strings: [tag], dontWait: true) }
            if try ZMQ.poll(sockets: [sub], timeoutMs: 10) == [true] {
                while try sub.receive(into: buffer, dontWait: true) > 0 {
                    got.insert(String(decoding: buffer.lastFrame, as: UTF8.self))
                }
            }
        }
        #expect(got == ["good"])
        let counts = list.counts
        #expect(counts.accepted["allowed"] ?? 0 >= 1)
        #expect(counts.denied >= 1)
        #expect(decisions.value.contains { $0.accepted && $0.client == "allowed" })
        #expect(decisions.value.contains { !$0.accepted && $0.key == stranger.publicKey })
        for socket in [good, bad, plain] { socket.close() }
        clients.terminate()
        sub.close()
        context.terminate()
        #expect(zap.join(timeout: 5))
    }

    /// Alert direction: a CURVE PUB server delivers to an allowed subscriber and to nobody else.
    @Test func keylessSubscriberGetsNothing() throws {
        let server = try CurveCertificate.generate()
        let allowed = try CurveCertificate.generate()
        let list = CurveAllowList([("tail", allowed.publicKey)])
        let context = try ZMQContext()
        let zap = ZAPHandler(context: context, allowList: list, domain: "omen")
        try zap.start()
        let pub = try ZMQSocket(context: context, type: .pub)
        try pub.makeCurveServer(server, domain: "omen")
        try pub.bind("tcp://127.0.0.1:*")
        let endpoint = try #require(pub.lastEndpoint)
        let clients = try ZMQContext()
        let good = try ZMQSocket(context: clients, type: .sub)
        try good.makeCurveClient(allowed, server: server.publicKey)
        let plain = try ZMQSocket(context: clients, type: .sub)
        for sub in [good, plain] {
            try sub.setLinger(milliseconds: 0)
            try sub.subscribe()
            try sub.connect(endpoint)
        }
        var goodGot = 0, plainGot = 0
        let buffer = ZMQMessageBuffer()
        for _ in 0..<200 where goodGot < 5 {
            try pub.send(strings: ["anomaly/open/x", "{}"])
            usleep(10_000)
            while try good.receive(into: buffer, dontWait: true) > 0 { goodGot += 1 }
            while try plain.receive(into: buffer, dontWait: true) > 0 { plainGot += 1 }
        }
        #expect(goodGot >= 5)
        #expect(plainGot == 0)
        good.close()
        plain.close()
        clients.terminate()
        pub.close()
        context.terminate()
        #expect(zap.join(timeout: 5))
    }

    /// After `replace`, a removed key is refused and a new one accepted (the SIGHUP reload).
    @Test func allowListReplace() throws {
        let a = try CurveCertificate.generate().publicKey
        let b = try CurveCertificate.generate().publicKey
        let list = CurveAllowList([("a", a)])
        #expect(list.authorise(a) == "a" && list.authorise(b) == nil)
        list.replace(with: [("b", b)])
        #expect(list.authorise(a) == nil && list.authorise(b) == "b")
        #expect(list.counts.accepted == ["a": 1, "b": 1] && list.counts.denied == 2)
    }
}

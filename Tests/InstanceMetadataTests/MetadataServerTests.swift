import Crypto
import Foundation
import InstanceMetadata
import Logging
import Testing
import VMI

/// The server itself, on the loopback device: requests read, guests looked up by source address, KPIs relayed.
@Suite struct MetadataServerTests {
    actor Relayed {
        var samples: [(String, [String: Double])] = []
        func add(_ vee: String, _ kpis: [String: Double]) { samples.append((vee, kpis)) }
        var count: Int { samples.count }
    }

    /// curl, waited for on a thread of its own: the server's answers need the cooperative pool free.
    func curl(_ arguments: [String]) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try blockingCurl(arguments) }) }
        }
    }

    func blockingCurl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "--max-time", "30"] + arguments  // beside the whole suite an answer can take seconds
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func answersOverTCPOnItsDevice() async throws {
        let guest = MetadataGuest(vee: "vee-1", name: "web-1", zone: "z",
                                  interfaces: [VEEInterface(network: "RED", vni: 7, mac: "52:54:00:00:00:01",
                                                            address: "127.0.0.1", subnet: "127.0.0.0/8")],
                                  context: nil)
        let relayed = Relayed()
        let port = Int.random(in: 20_000...40_000)
        let server = MetadataServer(port: port, tokens: MetadataTokens(key: SymmetricKey(size: .bits256)),
                                    logger: Logger(label: "test"),
                                    lookup: { vni, address in vni == 7 && address == "127.0.0.1" ? guest : nil },
                                    relay: { vee, kpis in await relayed.add(vee, kpis); return true })
        await server.serve([MetadataServer.Listener(vni: 7, device: "lo", address: "127.0.0.1")])
        #expect(await server.listeners.count == 1)
        let base = "http://127.0.0.1:\(port)"
        let token = try await curl(["-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", "\(base)/latest/api/token"])
        #expect(!token.isEmpty)
        #expect(try await curl(["-H", "X-aws-ec2-metadata-token: \(token)", "\(base)/latest/meta-data/instance-id"])
            == "web-1")
        #expect(try await curl(["\(base)/latest/meta-data/local-ipv4"]) == "127.0.0.1")
        #expect(try await curl(["-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "RequestPerSecond 5",
                          "\(base)/veem/v1/kpis"]) == "204")
        #expect(await relayed.count == 1)
        await server.stop()
        #expect(await server.listeners.isEmpty)
        #expect(try await curl(["-o", "/dev/null", "-w", "%{http_code}", "\(base)/latest/meta-data/"]) == "000",
                "closed")
    }
}

import Foundation
import Testing
import VeemTestSupport

/// AMQPS: the shipped coordinator and veemctl reach a broker over TLS, trusting a CA of the test's own named in the
/// broker URL; the broker sees TLS connections only from them. A broker certificate from another CA, or a plain
/// connection to the TLS port, is refused with a clear reason and no crash.
@Suite(.serialized) struct AMQPSTests {
    @Test func theCoordinatorAndVeemctlTalkTLSToABrokerSignedByTheSitesCA() async throws {
        let directory = NSTemporaryDirectory() + "veem-tls-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ca = try await TestCA.make(in: directory + "/ca")
        let impostor = try await TestCA.make(in: directory + "/impostor", name: "impostor CA")
        let node = try await PrivateBroker.start(tls: ca)
        do {
            try await ShippedSite.with(label: "tls", on: node) { site in
                try await run(site, node: node, ca: ca, impostor: impostor)
            }
            await node.shutdown()
        } catch {
            await node.shutdown()
            throw error
        }
    }

    func run(_ site: ShippedSite, node: PrivateBroker, ca: TestCA, impostor: TestCA) async throws {
        let tlsPort = try #require(node.tlsPort)
        func url(trusting trusted: TestCA) -> String {
            "amqps://guest:guest@localhost:\(tlsPort)/\(site.broker.vhost)?cacertfile=\(trusted.caFile)"
        }
        try await site.start("veem-coordinator", name: "coordinator", settings: [
            "VEEM_SITE": "site1", "VEEM_DATABASE": site.directory + "/coordinator.sqlite",
            "VEEM_AMQP_URL": url(trusting: ca),
        ])
        site.veemctlURL = url(trusting: ca)
        #expect(try await site.veemctl("hosts", "--timeout", "20").contains("HOST"), "a round trip over TLS")
        // Only TLS connections reach the vhost: the coordinator's (veemctl has gone).
        let connections = try await site.broker.rabbitmqctl(["list_connections", "-p", site.broker.vhost,
                                                             "--no-table-headers", "-q", "ssl", "peer_port"])
        let lines = connections.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("true") }, "\(connections)")

        site.veemctlURL = url(trusting: impostor)
        let refused = try await site.veemctlResult(["hosts", "--timeout", "3"])
        print("tls: a broker certificate from another CA: \(refused.output)")
        #expect(refused.status != 0 && refused.status < 128, "no crash: \(refused.status)")
        #expect(refused.output.localizedCaseInsensitiveContains("verif"), "says why: \(refused.output)")

        site.veemctlURL = "amqp://guest:guest@127.0.0.1:\(tlsPort)/\(site.broker.vhost)"
        let plain = try await site.veemctlResult(["hosts", "--timeout", "3"])
        print("tls: plain AMQP to the TLS port: \(plain.output)")
        #expect(plain.status != 0 && plain.status < 128, "no crash: \(plain.status) \(plain.output)")
        #expect(plain.output.contains("cannot reach the broker") && plain.output.contains("use amqps://"), "\(plain.output)")
    }
}

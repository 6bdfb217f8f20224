import Foundation
@testable import Messaging
import Testing

/// The least rights of each role, as patterns RabbitMQ matches against names and routing keys.
@Suite struct BusPolicyTests {
    func matches(_ pattern: String, _ name: String) throws -> Bool {
        let regex = try NSRegularExpression(pattern: pattern)
        return regex.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
    }

    @Test func anAgentMayTouchOnlyItsOwnQueueAndKeys() throws {
        let grant = BusPolicy.grant(for: .agent(host: "node-1.rack2"))
        #expect(try matches(grant.read, "veem.agent.node-1.rack2"))
        for other in ["veem.agent.node-1Xrack2", "veem.agent.node-1.rack22", "veem.agent.node", "veem.coordinator.reports"] {
            #expect(try !matches(grant.read, other) && !matches(grant.configure, other), "\(other)")
        }
        #expect(try matches(grant.write, "veem.events") && !matches(grant.write, "amq.default")
                && !matches(grant.write, "veem.requests") && !matches(grant.write, "veem.commands"))
        #expect(try matches(grant.eventsWrite, "host.node-1.rack2.heartbeat"))
        #expect(try !matches(grant.eventsWrite, "host.node-1.rack2x.heartbeat")
                && !matches(grant.eventsWrite, "site.host_down") && !matches(grant.eventsRead, "#"))
    }

    @Test func onlyTheCoordinatorMayPublishByQueueName() throws {
        for role in [BusRole.gateway, .operator, .agent(host: "h1")] {
            #expect(try !matches(BusPolicy.grant(for: role).write, "amq.default"), "\(role)")
        }
        #expect(try matches(BusPolicy.grant(for: .coordinator).write, "amq.default"))
    }

    @Test func aReportKeyNamesItsHostDotsIncluded() {
        #expect(Topology.reportHost(Topology.hostReportKey("node-1.rack2", "heartbeat")) == "node-1.rack2")
        #expect(Topology.reportHost("host.h1.console") == "h1")
        for key in ["site.host_down", "host.heartbeat", "host..x", "hosts.h1.state"] {
            #expect(Topology.reportHost(key) == nil, "\(key)")
        }
    }

    @Test func rolesAreParsedAndBadOnesRefused() {
        #expect(BusRole("agent:host1") == .agent(host: "host1") && BusRole("gateway") == .gateway)
        for bad in ["agent:", "agent:-x", "agent:a b", "admin", "Agent:h1"] { #expect(BusRole(bad) == nil, "\(bad)") }
    }

    @Test func theDefinitionsHoldTheSiteTopologyAndEachUsersRights() throws {
        let data = try BusPolicy.definitions(vhost: "site1", users: [("c", .coordinator), ("a1", .agent(host: "h1"))])
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let exchanges = (document["exchanges"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(Set(exchanges ?? []) == [Topology.requestsExchange, Topology.commandsExchange,
                                         Topology.eventsExchange, Topology.deadLetterExchange])
        let queues = try #require(document["queues"] as? [[String: Any]])
        let requests = try #require(queues.first { $0["name"] as? String == Topology.requestsQueue })
        let arguments = requests["arguments"] as? [String: Any]
        #expect(arguments?["x-queue-type"] as? String == "quorum"
                && arguments?["x-delivery-limit"] as? Int == Topology.requestDeliveryLimit)
        let permissions = try #require(document["permissions"] as? [[String: String]])
        #expect(permissions.count == 2 && permissions.allSatisfy { $0["vhost"] == "site1" })
        #expect(permissions.first { $0["user"] == "a1" }?["read"] == BusPolicy.grant(for: .agent(host: "h1")).read)
        let topics = try #require(document["topic_permissions"] as? [[String: String]])
        #expect(topics.allSatisfy { $0["exchange"] == Topology.eventsExchange })
    }
}

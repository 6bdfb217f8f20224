import Foundation
import Messaging
import Testing
import VeemTestSupport

/// A request that fails the shipped coordinator every time (its test failpoint) is delivered a bounded number of
/// times by the quorum request queue, then dead-lettered: logged, answered with an error, parked; requests sent
/// alongside it are answered as usual.
@Suite(.serialized) struct PoisonRequestTests {
    static let clients = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Clients").path

    @Test func aRequestThatKeepsFailingIsDeadLetteredAnsweredAndParked() async throws {
        try await ShippedSite.with(label: "poison") { site in
            try await site.start("veem-coordinator", name: "coordinator", settings: [
                "VEEM_SITE": "site1", "VEEM_DATABASE": site.directory + "/coordinator.sqlite",
                "VEEM_FAILPOINT_REQUESTS_FROM": "poison@system-test",
            ])
            func send(_ sender: String) async throws -> ExternalCommand.Result {
                try await ExternalCommand.run("/usr/bin/env", ["python3", Self.clients + "/poison_request.py", sender],
                                              environment: ProcessInfo.processInfo.environment
                                                  .merging(["VEEM_AMQP_URL": site.amqpURL]) { $1 })
            }
            async let poisoned = send("poison@system-test")
            async let innocent = send("innocent@system-test")
            let (poison, other) = try await (poisoned, innocent)
            // The innocent request got its own answer: the VEE it names does not exist.
            #expect(other.status == 0 && other.output.contains("UnknownVEE"), "\(other.output)")
            #expect(poison.status == 0 && poison.output.contains("ErrorReply")
                    && poison.output.contains("gave up"), "\(poison.output)")
            let parked = try await eventually(timeout: .seconds(10)) {
                try await site.broker.depth(of: "veem.coordinator.parked") == 1
            }
            #expect(parked, "the poison request parked")
            let coordinator = try #require(site.process("coordinator"))
            #expect(coordinator.output.contains("request given up after repeated failures; parked"))
            #expect(try await coordinator.waitForExit(timeout: .zero) == nil, "the coordinator kept running")
            // And it goes on answering.
            #expect(try await site.veemctl("hosts", "--timeout", "10").contains("HOST"))
        }
    }

    @Test func aClassicRequestQueueFromAnOlderVeemStopsTheCoordinatorWithWhatToDo() async throws {
        try await ShippedSite.with(label: "upgrade") { site in
            let old = AMQPConnection(configuration: site.broker.configuration(name: "older-veem"))
            try await old.declare([.queue(name: Topology.requestsQueue, durable: true, exclusive: false,
                                          autoDelete: false)])
            old.close()
            let coordinator = try DaemonProcess("veem-coordinator", name: "coordinator", directory: site.directory,
                                                settings: ["VEEM_SITE": "site1", "VEEM_AMQP_URL": site.amqpURL,
                                                           "VEEM_DATABASE": site.directory + "/coordinator.sqlite"])
            let exit = try await coordinator.waitForExit(timeout: .seconds(30))
            #expect(exit.map { !$0.signalled && $0.status != 0 } == true, "\(String(describing: exit))")
            #expect(coordinator.output.contains("is a classic queue left by an older veem")
                    && coordinator.output.contains("rabbitmqctl delete_queue -p \(site.broker.vhost)"),
                    "\(coordinator.output)")
            coordinator.notify.close()
        }
    }
}

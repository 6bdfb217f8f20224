import Foundation
import Hypervisor
import Inventory
import Messaging
import Testing
import VeemClient
import VeemTestSupport
import VMI

@Suite struct FaultTests {
    @Test func twoAgentsEachGetTheirOwnVEEs() async throws {
        try await withSite { site in
            let first = try await sharedTestDriver()    // 3 GiB
            let second = try await privateTestDriver()  // 4 GiB
            let a = "a-" + uniqueHost(), b = "b-" + uniqueHost()
            try await site.startCoordinator()
            try await site.startAgent(a, driver: first)
            try await site.startAgent(b, driver: second)
            // Two VEEs that cannot share a host (2.5 GiB each; memory is never overcommitted).
            let vees = try await site.client.submit([vee("big1", memoryMiB: 2560), vee("big2", memoryMiB: 2560)])
            #expect(Set(vees.map(\.host)) == [a, b])
            for view in vees { try await site.expect(view, .defined) }
            let onA = vees.filter { $0.host == a }.map(\.id), onB = vees.filter { $0.host == b }.map(\.id)
            #expect(try await first.ownedDomains(host: a).map(\.vee) == onA)
            #expect(try await second.ownedDomains(host: b).map(\.vee) == onB)
            #expect(try await second.status(of: onA[0]) == nil)
            let hosts = try await site.client.site().hosts
            #expect(hosts.map(\.allocated.memoryMiB) == [2560, 2560])
        }
    }

    @Test func aKilledAgentAdoptsItsDomainsAfterRestartWithoutDuplicates() async throws {
        try await withSite { site in
            let before = try await sharedTestDriver()
            let host = uniqueHost()
            try await site.startCoordinator()
            try await site.startAgent(host, driver: before)
            let vees = try await site.client.submit((1...4).map { vee("w\($0)") })
            for view in vees { try await site.expect(view, .defined) }

            // Commands in flight when the agent dies: they stay in its durable queue.
            for view in vees { _ = try await site.client.update(view.id, .activate) }
            await site.killAgent(host)
            // And work that arrives while it is dead.
            let late = try await site.client.submit([vee("late1")])

            let after = try await sharedTestDriver()
            try await site.startAgent(host, driver: after)
            for view in vees { try await site.expect(view, .active) }
            try await site.expect(late[0], .defined)
            let owned = try await after.ownedDomains(host: host)
            #expect(owned.count == 5)
            #expect(Set(owned.map(\.vee)) == Set((vees + late).map(\.id)))
            #expect(owned.filter { $0.status == .running }.count == 4)
            _ = before  // kept open: test:///default lives while a connection does
        }
    }

    @Test func pendingWorkCompletesAfterACoordinatorRestart() async throws {
        try await withSite { site in
            let driver = try await sharedTestDriver()
            try await site.startCoordinatorAndAgent(uniqueHost(), driver: driver)
            let web = try await site.define(vee("web1"))
            await site.stopCoordinator()

            // Sent while no coordinator runs: it waits in the durable request queue.
            async let accepted = site.client.update("web1", .activate)
            try await site.startCoordinator()
            #expect(try await accepted.desired == .active)
            try await site.expect(web, .active)
            #expect(try await driver.status(of: web.id) == .running)
        }
    }

    @Test func aRequestItsClientGaveUpOnIsNotRunLate() async throws {
        try await withSite { site in
            let driver = try await sharedTestDriver()
            try await site.startCoordinatorAndAgent(uniqueHost(), driver: driver)
            await site.stopCoordinator()
            // The client stops waiting after 1 s, and its request expires in the queue (AMQP expiration).
            await #expect(throws: VeemClientError.self) {
                _ = try await site.client.request(InitializeVEE(vee: vee("late1")), expecting: VEEsAccepted.self,
                                                  timeout: .seconds(1))
            }
            let id = "late-\(UUID().uuidString.prefix(8))"
            let expired = Task {
                try await site.client.requestRaw(InitializeVEE(vee: vee("late2")), id: id, timeout: .seconds(1))
            }
            _ = try? await expired.value
            try await site.startCoordinator()
            // A client still waiting is served as before (a write, so after the queued ones)…
            let onTime = try await site.client.initialize(vee("ontime1"))
            #expect(onTime.spec.name == "ontime1")
            // …while those that expired made nothing.
            let names = try await site.client.site().vees.map(\.spec.name)
            #expect(names == ["ontime1"], "\(names)")
            // Dropped by the broker (its clock, so no skew between client and coordinator matters), not parked.
            // A quorum queue's count reaches rabbitmqctl a moment after it changes.
            #expect(try await eventually(timeout: .seconds(15)) {
                try await site.broker.depth(of: Topology.requestsQueue) == 0
            })
            #expect(try await site.broker.depth(of: Topology.parkedQueue) == 0)
        }
    }

    @Test func aCoordinatorWithAnEmptyInventoryAsksRunningAgentsToRegisterAgain() async throws {
        try await withSite { site in
            let driver = try await sharedTestDriver()
            let host = uniqueHost()
            try await site.startCoordinatorAndAgent(host, driver: driver)
            let web = try await site.define(vee("web1"))
            await site.stopCoordinator()
            site.freshDatabase()
            try await site.startCoordinator()
            // The agent never restarted: its next heartbeat is from a host the new inventory does not know, which is
            // asked to register, and does.
            #expect(try await eventually { try await site.client.site().hosts.map(\.id) == [host] })
            // Its VEE is unknown to the new inventory and left alone on the host.
            #expect(try await site.client.site().vees.isEmpty)
            #expect(try await driver.status(of: web.id) == .shutoff(managedSave: false))
        }
    }

    @Test func anAgentRegisteringBeforeTheReportsQueueIsBoundRegistersOnceItIs() async throws {
        try await withSite { site in
            let driver = try await sharedTestDriver()
            let host = uniqueHost()
            // A site's first boot: the exchanges exist, the coordinator has not yet bound its reports queue.
            try await site.broker.rabbitmqctl(["delete_queue", "-p", site.broker.vhost, Topology.reportsQueue])
            async let registered: Void = site.startAgent(host, driver: driver)
            // A registration dropped then would never be asked for again: no command queue is bound for a host
            // that has not registered. The agent tries again until a queue takes it.
            #expect(try await site.logs.wait(for: "no queue takes host reports yet"), "\(site.logs.messages)")
            try await site.startCoordinator()
            try await registered
            #expect(try await site.client.site().hosts.map(\.id) == [host])
        }
    }

    @Test func aRepeatedRequestIsAnsweredOnceAndChangesNothing() async throws {
        try await withSite { site in
            let driver = try await sharedTestDriver()
            try await site.startCoordinatorAndAgent(uniqueHost(), driver: driver)
            let id = UUID().uuidString.lowercased()
            let first = try await site.client.requestRaw(SubmitVEEs(vees: [vee("once")]), id: id)
            let second = try await site.client.requestRaw(SubmitVEEs(vees: [vee("once")]), id: id)
            let a = try VMI.decode(VEEsAccepted.self, from: first).body
            let b = try VMI.decode(VEEsAccepted.self, from: second).body
            #expect(a.vees.map(\.id) == b.vees.map(\.id))
            #expect(try await site.client.site().vees.count == 1)
        }
    }

    @Test func aDroppedBrokerConnectionIsReestablishedAndNothingIsLost() async throws {
        try await withSite { site in
            let driver = try await sharedTestDriver()
            try await site.startCoordinatorAndAgent(uniqueHost(), driver: driver)
            let web = try await site.define(vee("web1"))
            let connections = site.client.connection.connectionCount

            try await site.broker.closeAllConnections()
            try await site.client.connection.waitUntilConnected()
            #expect(try await eventually { site.client.connection.connectionCount > connections })
            _ = try await site.client.update("web1", .activate)
            try await site.expect(web, .active)
            #expect(try await driver.status(of: web.id) == .running)
        }
    }

    @Test func aRequestNobodyReadsTimesOutAndACancelledOneFailsAtOnce() async throws {
        try await withSite { site in
            // The coordinator's queue exists, but nobody reads it.
            try await site.startCoordinator()
            await site.stopCoordinator()
            let client = site.client!
            let late = Task { try await client.requestRaw(VEEUpdate(vee: "x", action: .activate), timeout: .milliseconds(300)) }
            await #expect(throws: VeemClientError.self) { _ = try await late.value }
            let cancelled = Task { try await client.requestRaw(VEEUpdate(vee: "x", action: .activate), timeout: .seconds(600)) }
            cancelled.cancel()
            await #expect(throws: CancellationError.self) { _ = try await cancelled.value }
        }
    }

    @Test func aSilentHostIsMarkedDownAndComesBack() async throws {
        try await withSite { site in
            let driver = try await sharedTestDriver()
            let host = uniqueHost()
            try await site.startCoordinatorAndAgent(host, driver: driver)
            let killed = Date()
            await site.killAgent(host)
            try await site.watcher.wait(forHost: host, up: false, timeout: .seconds(15))
            #expect(try await site.client.site().hosts.first?.state == .down)
            // HOST_DOWN is kept with the time it was judged: after the last heartbeat, not a window earlier.
            let stored = try await Inventory(readingOnly: site.databasePath).read { try $0.events() }
            let down = try #require(stored.last { $0.kind == .hostDown && $0.host == host })
            #expect(down.at.map { $0 >= killed } == true, "HOST_DOWN at \(String(describing: down.at)), killed \(killed)")
            // Nothing can be placed on a host that is down.
            await #expect(throws: VeemClientError.self) { try await site.client.initialize(vee("nowhere")) }
            try await site.startAgent(host, driver: driver)
            #expect(try await site.client.site().hosts.first?.state == .up)
            let kept = try await Inventory(readingOnly: site.databasePath).read { try $0.events() }
            #expect(kept.filter { $0.kind == .hostUp && $0.host == host }.count == 2, "registered, and again: \(kept)")
        }
    }
}

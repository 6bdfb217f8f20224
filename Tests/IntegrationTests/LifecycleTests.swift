import Foundation
import Hypervisor
import Testing
import VeemClient
import VeemTestSupport
import VMI

/// Every VMI operation end to end: client → AMQP → coordinator → AMQP → agent → libvirt (test driver) → events back.
@Suite struct LifecycleTests {
    @Test func everyControlOperationReachesLibvirt() async throws {
        try await withSite { site in
            let driver = try await sharedTestDriver()
            let host = uniqueHost()
            try await site.startCoordinatorAndAgent(host, driver: driver)
            let client = site.client!

            let submitted = try await client.submit([vee("web1"), vee("db1", memoryMiB: 128)])
            #expect(submitted.map(\.host) == [host, host])
            #expect(submitted.map(\.desired) == [.defined, .defined])
            let single = try await client.initialize(vee("cache1"))
            for view in submitted + [single] { try await site.expect(view, .defined) }
            let web = submitted[0]
            #expect(try await driver.status(of: web.id) == .shutoff(managedSave: false))

            let steps: [(VEEAction, VEEState, DomainStatus?)] = [
                (.activate, .active, .running), (.pause, .paused, .paused), (.activate, .active, .running),
                (.suspend, .suspended, .shutoff(managedSave: true)), (.activate, .active, .running),
                (.shutdown, .defined, .shutoff(managedSave: false)), (.destroy, .destroyed, nil),
            ]
            for (action, state, status) in steps {
                let accepted = try await client.update("web1", action)
                #expect(accepted.desired == state)
                try await site.expect(web, state)
                #expect(try await driver.status(of: web.id) == status, "after \(action)")
            }
            // DESTROY took the disk too; the name is free again.
            #expect(!FileManager.default.fileExists(atPath: NSTemporaryDirectory() + "veem-it-disks/\(web.id).qcow2"))
            let reborn = try await client.initialize(vee("web1"))
            #expect(reborn.id != web.id)

            // The other VEEs were never touched.
            #expect(try await driver.status(of: submitted[1].id) == .shutoff(managedSave: false))
            let site1 = try await client.site()
            #expect(site1.hosts.map(\.id) == [host])
            #expect(site1.vees.first { $0.id == web.id }?.observed == .destroyed)
        }
    }

    @Test func monitoringCarriesProbeKPIsAndPlatformMetrics() async throws {
        try await withSite { site in
            let driver = try await sharedTestDriver()
            try await site.startCoordinatorAndAgent(uniqueHost(), driver: driver)
            let client = site.client!
            let web = try await site.define(vee("web1"))
            try await site.change(web, .activate)

            try await client.put(kpis: ["RequestPerSecond": 1200, "Users": 40], for: "web1")
            let kpis = try await client.monitoring("web1")
            #expect(kpis.first?.kpis == ["RequestPerSecond": 1200, "Users": 40])
            // Platform metrics come from the agent's virConnectGetAllDomainStats every heartbeat interval here (the
            // test driver reports only the domain state: 1 = running).
            #expect(try await eventually { try await client.monitoring("web1").first?.metrics["libvirt.state"] == 1 })
            await #expect(throws: VeemClientError.self) { try await client.monitoring("ghost") }
        }
    }

    @Test func aGuestThatPowersItselfOffStaysOff() async throws {
        try await withSite { site in
            let driver = try await sharedTestDriver()
            try await site.startCoordinatorAndAgent(uniqueHost(), driver: driver)
            let web = try await site.define(vee("web1"))
            try await site.change(web, .activate)
            // From inside the guest (behind veem's back): libvirt's event reaches the agent, the coordinator adopts it.
            try await driver.requestShutdown(web.id)
            try await site.expect(web, .defined)
            let now = try await site.client.site().vees.first { $0.id == web.id }
            #expect(now?.desired == .defined)
            #expect(try await driver.status(of: web.id) == .shutoff(managedSave: false))
        }
    }
}

import Coordinator
import Foundation
import Hypervisor
import Testing
import VeemClient
import VeemTestSupport
import VMI

@Suite struct PreemptionTests {
    @Test func goldPreemptsBronzeAndEvictedVEEsAreMovedOrReported() async throws {
        try await withSite { site in
            let first = try await LibvirtDriver.open(uri: try TestNode.uri(cpus: 4, memoryMiB: 8192),
                                                     diskDirectory: NSTemporaryDirectory() + "veem-it-disks")
            let a = "a-" + uniqueHost(), b = "b-" + uniqueHost()
            try await site.startCoordinator(placement: SitePlacement(preemption: true))
            try await site.startAgent(a, driver: first, group: "ga")
            let client = site.client!

            // Bronze fills host a: 4 replicas of 4 vCPUs = 4 physical CPUs at 4× overcommit.
            _ = try await client.submitService(manifest: """
                service: batch
                components:
                  W: {cpus: 4, memoryMiB: 64, diskGiB: 0, image: tiny, replicas: 4}
                sla:
                  - SLA(W) = Bronze
                """)
            #expect(try await site.watcher.wait(forService: "batch", toReach: [.active, .failed]) == .active)

            // A Gold VEE of 2 CPUs only fits by evicting two Bronze replicas; no other host has room for them.
            let gold = try await site.define(VEESpec(name: "gold1", cpus: 2, memoryMiB: 64, diskGiB: 0, image: "tiny"))
            #expect(gold.host == a)
            let destroyed = site.watcher.seen.filter { $0.kind == .veePreempted && $0.message.contains("destroyed") }
            #expect(destroyed.count == 2)
            for event in destroyed { try await site.watcher.wait(for: event.vee!, toReach: [.destroyed]) }
            #expect(try await first.ownedDomains(host: a).count == 3)

            // With a second host, the service refills there; then a Gold component confined to host a's group
            // evicts again, and this time the evicted replicas move to b.
            let second = try await LibvirtDriver.open(uri: try TestNode.uri(cpus: 4, memoryMiB: 8192),
                                                      diskDirectory: NSTemporaryDirectory() + "veem-it-disks")
            try await site.startAgent(b, driver: second, group: "gb")
            #expect(try await eventually(timeout: .seconds(30)) {
                try await client.services("batch").first?.components.first?.replicas
                    .filter { $0.observed == .active }.count == 4
            })
            _ = try await client.submitService(manifest: """
                service: front
                components:
                  F: {cpus: 2, memoryMiB: 64, diskGiB: 0, image: tiny}
                sla:
                  - SLA(F) = Gold
                directives:
                  - Deploy(F) = {ga}
                """)
            #expect(try await site.watcher.wait(forService: "front", toReach: [.active, .failed]) == .active)
            let moved = site.watcher.seen.filter { $0.kind == .veePreempted && $0.message.contains("moved to \(b)") }
            #expect(moved.count == 2)
            for event in moved {
                let vee = try #require(event.vee)
                try await site.watcher.wait(for: vee, toReach: [.active])
                #expect(try await second.status(of: vee) == .running)
                #expect(try await eventually { try await first.status(of: vee) == nil })
            }
            // Nothing was lost: the Bronze service still runs its 4 replicas.
            let batch = try #require(try await client.services("batch").first)
            #expect(batch.components[0].replicas.filter { $0.observed == .active }.count == 4)
        }
    }
}

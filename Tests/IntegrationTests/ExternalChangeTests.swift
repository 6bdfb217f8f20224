import Foundation
import Hypervisor
import Testing
import VeemClient
import VeemTestSupport
import VMI

/// Domains changed behind veem's back (what `virsh destroy`, `virsh managedsave` or `virsh undefine` do, here
/// through libvirt itself): one policy, each change named by a VEE_CHANGED_OUTSIDE event. A lone VEE's change is
/// adopted, and an undefined lone VEE leaves nothing behind; a service replica is restored.
@Suite struct ExternalChangeTests {
    @Test func loneVEEsAdoptTheChangeAndReplicasAreRestored() async throws {
        try await withSite { site in
            let driver = try await sharedTestDriver()
            try await site.startCoordinatorAndAgent(uniqueHost(), driver: driver)
            let client = site.client!
            let lone = try await site.define(vee("lone1"))
            try await site.change(lone, .activate)
            _ = try await client.submitService(manifest: """
                service: app
                components:
                  C1: {memoryMiB: 64, diskGiB: 1, image: tiny}
                """)
            #expect(try await site.watcher.wait(forService: "app", toReach: [.active, .failed]) == .active)
            let replica = try #require(try await client.services("app").first?.components.first?.replicas.first)

            func outside(_ vee: String, _ text: String) async throws -> SiteEvent {
                let matches: @Sendable (SiteEvent) -> Bool = {
                    $0.kind == .veeChangedOutside && $0.vee == vee && $0.message.contains(text)
                }
                return try await site.watcher.wait(timeout: .seconds(20), what: "\(vee): \(text)",
                                                   satisfied: { $0.last(where: matches) }, matching: matches)
            }
            func current(_ vee: String) async throws -> VEEView? { try await client.site().vees.first { $0.id == vee } }

            // A lone VEE powered off outside veem stays off: its desired state follows.
            try await driver.powerOff(lone.id)
            let adopted = try await outside(lone.id, "adopted")
            #expect(adopted.message.contains("was ACTIVE, found DEFINED"), "\(adopted.message)")
            #expect(try await eventually { try await current(lone.id).map { $0.desired == .defined && $0.observed == .defined } == true })

            // A replica powered off, then saved, outside veem is brought back each time.
            for (change, found) in [("powerOff", "DEFINED"), ("managedSave", "SUSPENDED")] {
                if change == "powerOff" { try await driver.powerOff(replica.id) } else { try await driver.managedSave(replica.id) }
                let restored = try await outside(replica.id, "found \(found)")
                #expect(restored.message.contains("restored to ACTIVE"), "\(restored.message)")
                let back = try await eventually {
                    let view = try await current(replica.id)
                    return try await driver.status(of: replica.id) == .running
                        && view?.desired == .active && view?.observed == .active
                }
                #expect(back, "\(change): the replica runs again")
            }

            // A lone VEE undefined outside veem is destroyed, and its disk goes with it.
            #expect(try await driver.hasDisk(lone.id))
            try await driver.undefine(lone.id)
            _ = try await outside(lone.id, "found DESTROYED")
            #expect(try await eventually { try await current(lone.id)?.desired == .destroyed })
            #expect(try await eventually { try await !driver.hasDisk(lone.id) }, "its disk removed")
        }
    }
}

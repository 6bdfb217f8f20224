@testable import Coordinator
import Inventory
import Placement
import Testing
import VMI

/// The snapshot the coordinator gives the scheduler: which residents it lists and which it sums.
@Suite struct SitePlacementTests {
    let host = HostView(id: "h1", hypervisor: "Test", domainType: "test",
                        capacity: Resources(cpus: 8, memoryMiB: 8192, diskGiB: 100), allocated: .zero, state: .up,
                        lastHeartbeat: nil, images: ["tiny"])
    let footprint = SiteFootprint([
        VEEFootprint(vee: "lone-gold-1", host: "h1", resources: Resources(cpus: 1, memoryMiB: 512, diskGiB: 1),
                     slaClass: "Gold"),
        VEEFootprint(vee: "lone-gold-2", host: "h1", resources: Resources(cpus: 2, memoryMiB: 512, diskGiB: 1),
                     slaClass: "Gold"),
        VEEFootprint(vee: "lone-bronze", host: "h1", resources: Resources(cpus: 4, memoryMiB: 256, diskGiB: 1),
                     slaClass: "Bronze"),
        VEEFootprint(vee: "shop-C1-1", host: "h1", resources: Resources(cpus: 1, memoryMiB: 256, diskGiB: 1),
                     slaClass: "Gold", service: "shop", component: "C1"),
    ])

    @Test func loneVEEsAreSummedPerClassAndServiceVEEsListed() throws {
        let placed = try #require(SitePlacement().hosts([host], footprint).first)
        #expect(placed.residents.map(\.vee) == ["shop-C1-1"])
        #expect(placed.residents.first?.spreadKey == "shop/C1")
        let sums = Dictionary(uniqueKeysWithValues: placed.reserved.map { ($0.slaClass.name, $0.resources.cpus) })
        #expect(sums == ["Gold": 3, "Bronze": 4])
    }

    @Test func whatAClassMayPreemptIsListedOneByOne() throws {
        let placed = try #require(SitePlacement(preemption: true).hosts([host], footprint).first)
        #expect(Set(placed.residents.map(\.vee)) == ["shop-C1-1", "lone-bronze"])
        #expect(placed.reserved.map(\.slaClass.name) == ["Gold"])
        #expect(placed.reserved.first?.resources.cpus == 3)
    }

    @Test func excludedVEEsTakeNoRoom() throws {
        let placed = try #require(SitePlacement().hosts([host], footprint, excluding: ["lone-gold-2"]).first)
        #expect(placed.reserved.isEmpty)
        #expect(Set(placed.residents.map(\.vee)) == ["shop-C1-1", "lone-gold-1", "lone-bronze"])
    }
}

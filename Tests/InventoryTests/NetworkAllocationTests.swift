import Foundation
import Inventory
import Testing
import VMI

/// The site-wide allocation of VNIs, subnets, MACs and addresses, on a real SQLite file.
@Suite struct NetworkAllocationTests {
    let path = NSTemporaryDirectory() + "veem-networks-\(UUID().uuidString)/site.sqlite"
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    func registration(_ host: String) -> HostRegistration {
        HostRegistration(host: host, hypervisor: "Test 0.0.2", domainType: "test",
                         capacity: Resources(cpus: 64, memoryMiB: 65536, diskGiB: 100), images: ["tiny"], vees: [],
                         underlay: "10.78.0.\(Int(host.dropFirst())! + 10)")
    }

    func inventory() async throws -> Inventory {
        let inventory = try Inventory(path: path)
        let now = now
        try await inventory.write { tx in
            for host in ["h1", "h2", "h3"] { try tx.register(registration(host), at: now) }
            _ = try tx.takeNetworkChanges()
        }
        return inventory
    }

    /// Admits `names` on the hosts given, each on `networks` of `scope`.
    func admit(_ inventory: Inventory, _ names: [String], on hosts: [String], scope: String = "svc",
               networks: [NetworkRequest]? = nil) async throws -> [VEEView] {
        let now = now
        return try await inventory.write { tx in
            try tx.admit(names.map { name in
                Admission(spec: VEESpec(name: name, diskGiB: 0, image: "tiny", networks: ["RED"]), slaClass: "Gold",
                          service: scope.isEmpty ? nil : scope, component: "web",
                          networks: networks ?? [NetworkRequest(scope: scope, name: "RED")])
            }, at: now) { _, _ in hosts }
        }
    }

    @Test func membersOfANetworkShareItsVNIAndSubnetWithAddressesAndMACsOfTheirOwn() async throws {
        let inventory = try await inventory()
        let vees = try await admit(inventory, ["a", "b", "c"], on: ["h1", "h2", "h2"])
        let interfaces = vees.compactMap { $0.interfaces?.first }
        #expect(interfaces.count == 3)
        #expect(Set(interfaces.map(\.vni)).count == 1 && interfaces[0].vni >= 1000)
        #expect(Set(interfaces.map(\.subnet)) == ["10.128.0.0/24"])
        #expect(interfaces.map(\.address) == ["10.128.0.10", "10.128.0.11", "10.128.0.12"])
        #expect(Set(interfaces.map(\.mac)).count == 3 && interfaces.allSatisfy { $0.mac.hasPrefix("52:54:00:") })
        #expect(interfaces[0].gateway == "10.128.0.1")
        // Read back as commands carry them.
        let stored = try await inventory.read { tx in try tx.vee("b") }
        #expect(stored?.interfaces == vees[1].interfaces)
        // Another service's network is another segment with its own subnet.
        let other = try await admit(inventory, ["x"], on: ["h1"], scope: "other")
        #expect(other[0].interfaces?.first?.vni == interfaces[0].vni + 1)
        #expect(other[0].interfaces?.first?.subnet == "10.128.1.0/24")
    }

    @Test func peersAreTheOtherHostsWithMembersAndChangesNameTheirHosts() async throws {
        let inventory = try await inventory()
        _ = try await admit(inventory, ["a", "b", "c"], on: ["h1", "h2", "h2"])
        let (changes, h1, h3) = try await inventory.write { tx in
            (try tx.takeNetworkChanges(), try tx.hostNetworks("h1"), try tx.hostNetworks("h3"))
        }
        #expect(changes.map(\.host) == ["h1", "h2"], "only hosts with members are told")
        #expect(changes.first { $0.host == "h2" }?.networks.first?.peers == ["10.78.0.11"])
        #expect(h1.networks.first?.peers == ["10.78.0.12"])
        #expect(h3.networks.isEmpty)
        #expect(h1.generation > changes[0].generation, "every message a newer generation")
        let quiet = try await inventory.write { tx in try tx.takeNetworkChanges() }
        #expect(quiet.isEmpty, "changes are taken once")
    }

    @Test func anAddressIsFreedOnlyOnceItsVEEIsReportedDestroyed() async throws {
        let inventory = try await inventory()
        let vees = try await admit(inventory, ["a", "b"], on: ["h1", "h2"])
        let now = now
        try await inventory.write { tx in
            _ = try tx.updateDesired("a", at: now) { _ in .destroyed }
        }
        let whileDestroying = try await admit(inventory, ["c"], on: ["h1"])
        #expect(whileDestroying[0].interfaces?.first?.address == "10.128.0.12", "a's address is still held")
        let changes = try await inventory.write { tx in
            _ = try tx.takeNetworkChanges()
            _ = try tx.observe(VEEObservation(vee: vees[0].id, state: .destroyed), from: "h1", at: now)
            return try tx.takeNetworkChanges()
        }
        #expect(Set(changes.map(\.host)) == ["h1", "h2"])
        let reused = try await admit(inventory, ["d"], on: ["h3"])
        #expect(reused[0].interfaces?.first?.address == "10.128.0.10")
    }

    @Test func aRequestedSubnetIsKeptAndTheSiteAllocatesAroundIt() async throws {
        let inventory = try await inventory()
        let fixed = try await admit(inventory, ["a"], on: ["h1"], scope: "one",
                                    networks: [NetworkRequest(scope: "one", name: "RED",
                                                              subnet: IPv4Network("10.128.0.0/16"),
                                                              bytesPerSecond: 5_000_000)])
        #expect(fixed[0].interfaces?.first?.subnet == "10.128.0.0/16")
        #expect(fixed[0].interfaces?.first?.bytesPerSecond == 5_000_000)
        let allocated = try await admit(inventory, ["b"], on: ["h1"], scope: "two")
        #expect(allocated[0].interfaces?.first?.subnet == "10.129.0.0/24", "clear of the requested /16")
        let views = try await inventory.read { tx in try tx.networks(scope: "one") }
        #expect(views.map(\.members) == [1] && views.first?.hosts == ["h1"])
    }

    @Test func aLoneVEEsNetworkGoesWithItsLastMember() async throws {
        let inventory = try await inventory()
        let vees = try await admit(inventory, ["a"], on: ["h1"], scope: "")
        let now = now
        let left = try await inventory.write { tx in
            _ = try tx.updateDesired("a", at: now) { _ in .destroyed }
            _ = try tx.observe(VEEObservation(vee: vees[0].id, state: .destroyed), from: "h1", at: now)
            return try tx.networks(scope: "")
        }
        #expect(left.isEmpty)
    }
}

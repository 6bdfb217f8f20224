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

    @Test func aGivenAddressIsTakenOnlyInsideItsSubnetAndOnlyOnce() async throws {
        let inventory = try await inventory()
        let red = NetworkRequest(scope: "vpc:v", name: "subnet-1", subnet: IPv4Network("10.30.1.0/24"),
                                 address: IPv4Address("10.30.1.20"))
        let given = try await admit(inventory, ["a"], on: ["h1"], scope: "", networks: [red])
        #expect(given[0].interfaces?.first?.address == "10.30.1.20")
        #expect(try await inventory.read { try $0.addressesInUse(scope: "vpc:v", network: "subnet-1") } == ["10.30.1.20"])
        for address in ["10.30.1.20", "10.30.1.1", "10.30.1.255", "10.30.2.5"] {
            var request = red
            request.address = IPv4Address(address)
            await #expect(throws: VMIError.self, "\(address)") {
                _ = try await admit(inventory, ["b"], on: ["h1"], scope: "", networks: [request])
            }
        }
        #expect(try await inventory.read { try $0.vee("b") } == nil, "a refused address admits nothing")
    }

    @Test func aFirewallGoesToItsVEEsHostOnlyWhenItChanges() async throws {
        let inventory = try await inventory()
        let vees = try await admit(inventory, ["a", "b"], on: ["h1", "h2"])
        _ = try await inventory.write { try $0.takeNetworkChanges() }
        let interface = try #require(vees[0].interfaces?.first)
        let firewall = VEEFirewall(vee: vees[0].id, vni: interface.vni, address: interface.address, groups: ["v/web"],
                                   ingress: [FirewallRule(ipProtocol: "tcp", fromPort: 80, toPort: 80,
                                                          cidrs: ["0.0.0.0/0"], groups: ["v/web"])], egress: nil)
        let told = try await inventory.write { tx in
            try tx.setFirewall(firewall, vee: vees[0].id)
            return try tx.takeNetworkChanges()
        }
        // Both hosts of the network hear of it (peers are recomputed for each); h1's list carries the firewall.
        #expect(told.map(\.host) == ["h1", "h2"])
        #expect(told.first { $0.host == "h1" }?.firewalls == [firewall])
        #expect(told.first { $0.host == "h1" }?.groupMembers == ["v/web": [interface.address]])
        #expect(told.first { $0.host == "h2" }?.firewalls == nil)
        // b joins the group a's rules name: a's host hears of the new member without a's firewall changing.
        let b = try #require(vees[1].interfaces?.first)
        let joined = try await inventory.write { tx in
            try tx.setFirewall(VEEFirewall(vee: vees[1].id, vni: b.vni, address: b.address, groups: ["v/web"],
                                           ingress: [], egress: nil), vee: vees[1].id)
            return try tx.takeNetworkChanges()
        }
        #expect(joined.first { $0.host == "h1" }?.groupMembers == ["v/web": [interface.address, b.address].sorted()])
        let again = try await inventory.write { tx in
            try tx.setFirewall(firewall, vee: vees[0].id)
            return try tx.takeNetworkChanges()
        }
        #expect(again.isEmpty, "the same firewall changes nothing")
        // Changed twice in one transaction (the second change finds its network already listed as changed).
        var wider = firewall
        wider.ingress.append(FirewallRule(ipProtocol: "udp", fromPort: 53, toPort: 53, cidrs: ["10.0.0.0/8"]))
        let opened = wider
        let twice = try await inventory.write { tx in
            try tx.setFirewall(opened, vee: vees[0].id)
            try tx.setFirewall(firewall, vee: vees[0].id)
            return try tx.takeNetworkChanges()
        }
        #expect(twice.first { $0.host == "h1" }?.firewalls == [firewall])
        let removed = try await inventory.write { tx in
            try tx.setFirewall(nil, vee: vees[0].id)
            return try tx.takeNetworkChanges()
        }
        #expect(removed.first { $0.host == "h1" }.map { $0.firewalls == nil } == true)
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

@testable import Agent
import Testing
import VMI

@Suite struct NetworkPlanTests {
    let underlay = "10.78.0.11"

    func network(_ vni: Int, leases: [String: String] = ["52:54:00:00:00:01": "10.10.0.10"],
                 peers: Set<String> = ["10.78.0.12"]) -> DesiredNetwork {
        DesiredNetwork(vni: vni, subnet: IPv4Network("10.10.0.0/24")!, leases: leases, peers: peers)
    }

    /// What the host has once every step of a plan for `desired` ran.
    func applied(_ desired: [DesiredNetwork]) -> ObservedNetworks {
        var observed = ObservedNetworks(ruleset: NetworkPlan.ruleset(desired))
        for network in desired {
            observed.networks[network.vni] = .init(
                bridge: true, bridgeAddresses: ["\(network.gateway)/24"], bridgeMAC: NetworkNames.gatewayMAC(network.vni),
                bridgeUp: true, vxlan: true, vxlanLocal: underlay, vxlanAttached: true, vxlanUp: true,
                floods: network.peers, dnsmasqRunning: true, hostsFile: network.hostsFile)
        }
        return observed
    }

    @Test func aNewNetworkIsBuiltInOrder() {
        let steps = NetworkPlan.steps(desired: [network(1000)], observed: ObservedNetworks(), underlay: underlay)
        #expect(steps.prefix(6) == [
            .createBridge(vni: 1000, mac: "02:76:65:00:03:e8"), .addBridgeAddress(vni: 1000, address: "10.10.0.1/24"),
            .setBridgeUp(vni: 1000), .createVXLAN(vni: 1000, local: underlay), .attachVXLAN(vni: 1000),
            .addFlood(vni: 1000, peer: "10.78.0.12"),
        ])
        #expect(steps.contains(.writeLeases(vni: 1000, hostsFile: "52:54:00:00:00:01,10.10.0.10\n")))
        #expect(steps.last == .loadRuleset(NetworkPlan.ruleset([network(1000)])))
        let writeIndex = steps.firstIndex { if case .writeLeases = $0 { true } else { false } }!
        let startIndex = steps.firstIndex { if case .startDHCP = $0 { true } else { false } }!
        #expect(writeIndex < startIndex, "the leases exist before the DHCP server reads them")
    }

    @Test func whatIsAlreadyRightPlansNothing() {
        let desired = [network(1000), network(1001, peers: [])]
        #expect(NetworkPlan.steps(desired: desired, observed: applied(desired), underlay: underlay) == [])
    }

    @Test func peersAndLeasesChangeInPlace() {
        let before = [network(1000)]
        let after = [network(1000, leases: ["52:54:00:00:00:01": "10.10.0.10", "52:54:00:00:00:02": "10.10.0.11"],
                             peers: ["10.78.0.13"])]
        let steps = NetworkPlan.steps(desired: after, observed: applied(before), underlay: underlay)
        #expect(steps == [
            .addFlood(vni: 1000, peer: "10.78.0.13"), .removeFlood(vni: 1000, peer: "10.78.0.12"),
            .writeLeases(vni: 1000, hostsFile: after[0].hostsFile), .reloadDHCP(vni: 1000, subnet: after[0].subnet),
            // The new member's tap is pinned to its MAC and address.
            .loadRuleset(NetworkPlan.ruleset(after)),
        ])
    }

    @Test func aDHCPServerOfAnOlderAgentIsStartedAgain() {
        let desired = [network(1000)]
        var observed = applied(desired)
        observed.networks[1000]!.dnsmasqCurrent = false
        #expect(NetworkPlan.steps(desired: desired, observed: observed, underlay: underlay) == [
            .stopDHCP(vni: 1000), .writeLeases(vni: 1000, hostsFile: desired[0].hostsFile),
            .startDHCP(vni: 1000, subnet: desired[0].subnet),
        ])
    }

    @Test func aNetworkWithoutMembersGoesEntirelyDHCPFirst() {
        let steps = NetworkPlan.steps(desired: [], observed: applied([network(1000)]), underlay: underlay)
        #expect(steps == [.loadRuleset(NetworkPlan.ruleset([])), .stopDHCP(vni: 1000), .removeVXLAN(vni: 1000),
                          .removeBridge(vni: 1000)])
    }

    @Test func aChangedUnderlayAddressRebuildsTheVXLANDevice() {
        var observed = applied([network(1000)])
        observed.networks[1000]!.vxlanLocal = "10.78.0.99"
        let steps = NetworkPlan.steps(desired: [network(1000)], observed: observed, underlay: underlay)
        #expect(steps == [.removeVXLAN(vni: 1000), .createVXLAN(vni: 1000, local: underlay), .attachVXLAN(vni: 1000),
                          .addFlood(vni: 1000, peer: "10.78.0.12")])
    }

    @Test func namesAreVeemsOwnAndFitLinuxsLimit() {
        #expect(NetworkNames.bridge(16_777_215).count <= 15 && NetworkNames.vxlan(16_777_215).count <= 15)
        #expect(NetworkNames.tap(mac: "52:54:00:AB:cd:0F") == "veemtabcd0f")
        #expect(NetworkNames.vni(in: "veemb1000", prefix: NetworkNames.bridgePrefix) == 1000)
        #expect(NetworkNames.vni(in: "virbr0", prefix: NetworkNames.bridgePrefix) == nil)
        #expect(NetworkNames.vni(in: "veembx", prefix: NetworkNames.bridgePrefix) == nil)
    }

    @Test func theRulesetKeepsGatewaysAndDHCPOffTheVXLANAndRoutesNothingOut() {
        let rules = NetworkPlan.ruleset([network(1000)])
        #expect(rules.contains("oifname \"veemx*\" ether saddr { 02:76:65:00:03:e8 } drop"))
        #expect(rules.contains("iifname \"veemx*\" udp dport { 67, 68 } drop"))
        #expect(rules.contains("iifname \"veemb1000\" ip daddr != 10.10.0.0/24 drop"))
        #expect(rules.hasPrefix("table bridge veem\ndelete table bridge veem\n"), "replaced whole, atomically")
    }
}

@Suite struct NetworkRulesetTests {
    @Test func aSpeedLimitsEachMembersTapBothWays() {
        var network = DesiredNetwork(vni: 1000, subnet: IPv4Network("10.10.0.0/24")!,
                                     leases: ["52:54:00:0a:0b:0c": "10.10.0.10"], peers: [])
        network.limits["veemt0a0b0c"] = 1_000_000
        let rules = NetworkPlan.ruleset([network])
        #expect(rules.contains("limit out-veemt0a0b0c { rate over 1000000 bytes/second }"))
        #expect(rules.contains("limit in-veemt0a0b0c { rate over 1000000 bytes/second }"))
        #expect(rules.contains("iifname \"veemt0a0b0c\" limit name \"out-veemt0a0b0c\" drop"))
        #expect(rules.contains("oifname \"veemt0a0b0c\" limit name \"in-veemt0a0b0c\" drop"))
        #expect(!NetworkPlan.ruleset([DesiredNetwork(vni: 1000, subnet: network.subnet, leases: [:], peers: [])])
            .contains("limit "), "no SPEED, no limit")
    }
}

extension NetworkRulesetTests {
    /// The kernel's nftables accepts what is rendered (`nft -c` checks without changing anything).
    @Test func theKernelAcceptsTheRuleset() async throws {
        var red = DesiredNetwork(vni: 1000, subnet: IPv4Network("10.10.0.0/24")!,
                                 leases: ["52:54:00:0a:0b:0c": "10.10.0.10"], peers: ["10.78.0.12"])
        red.limits["veemt0a0b0c"] = 5_000_000
        let blue = DesiredNetwork(vni: 1001, subnet: IPv4Network("10.11.0.0/24")!, leases: [:], peers: [])
        for networks in [[], [red], [red, blue]] {
            for port in [nil, 8775] {
                try await HostCommands().run(["nft", "-c", "-f", "-"],
                                             stdin: NetworkPlan.ruleset(networks, metadataPort: port))
            }
        }
    }

    @Test func eachTapCarriesOnlyItsVEEsMACAndAddress() {
        let red = DesiredNetwork(vni: 1000, subnet: IPv4Network("10.10.0.0/24")!,
                                 leases: ["52:54:00:0a:0b:0c": "10.10.0.10"], peers: [])
        let rules = NetworkPlan.ruleset([red])
        #expect(rules.contains("iifname \"veemt0a0b0c\" ether saddr != 52:54:00:0a:0b:0c drop"))
        #expect(rules.contains("iifname \"veemt0a0b0c\" ether type ip ip saddr != { 0.0.0.0, 10.10.0.10 } drop"))
        #expect(rules.contains("iifname \"veemt0a0b0c\" ether type arp arp saddr ip != { 0.0.0.0, 10.10.0.10 } drop"))
    }

    @Test func metadataIsForwardedToEachBridgesListenerInItsOwnZone() {
        let red = DesiredNetwork(vni: 1000, subnet: IPv4Network("10.10.0.0/24")!, leases: [:], peers: [])
        let blue = DesiredNetwork(vni: 70_000, subnet: IPv4Network("10.10.0.0/24")!, leases: [:], peers: [])
        let rules = NetworkPlan.ruleset([red, blue], metadataPort: 8775)
        #expect(rules.contains("iifname \"veemb1000\" ip daddr 169.254.169.254 tcp dport 80 dnat ip to 10.10.0.1:8775"))
        #expect(rules.contains("iifname \"veemb70000\" ct zone set 4465"))
        #expect(rules.contains("oifname \"veemb1000\" ct zone set 1000"))
        // Only what came through the forward reaches the listener.
        #expect(rules.contains("iifname \"veemb*\" tcp dport 8775 ct status dnat accept"))
        #expect(!NetworkPlan.ruleset([red]).contains("169.254.169.254"), "no metadata service, no forward")
    }
}

extension NetworkRulesetTests {
    static var firewalled: DesiredNetwork {
        var red = DesiredNetwork(vni: 1000, subnet: IPv4Network("10.10.0.0/24")!,
                                 leases: ["52:54:00:0a:0b:0c": "10.10.0.10", "52:54:00:0a:0b:0d": "10.10.0.11"],
                                 peers: [])
        red.firewalls = [
            VEEFirewall(vee: "web", vni: 1000, address: "10.10.0.10", groups: ["vpc-1/sg-web"], ingress: [
                FirewallRule(ipProtocol: "tcp", fromPort: 80, toPort: 80, cidrs: ["0.0.0.0/0"]),
                FirewallRule(ipProtocol: "tcp", fromPort: 8000, toPort: 8100, cidrs: ["10.10.0.11/32"]),
                FirewallRule(ipProtocol: "icmp", fromPort: 8, toPort: -1, cidrs: ["10.0.0.0/8"]),
                FirewallRule(ipProtocol: "-1", cidrs: ["10.10.0.12/32"], groups: ["vpc-1/sg-web", "vpc-1/sg-db"]),
            ], egress: nil),
            VEEFirewall(vee: "db", vni: 1000, address: "10.10.0.11", groups: ["vpc-1/sg-db"], ingress: [],
                        egress: [FirewallRule(ipProtocol: "udp", cidrs: ["10.10.0.0/24"])]),
        ]
        red.groupMembers = ["vpc-1/sg-web": ["10.10.0.10"], "vpc-1/sg-db": []]
        return red
    }

    @Test func securityGroupsAllowOnlyTheirRulesInAndRepliesBack() {
        let rules = NetworkPlan.ruleset([Self.firewalled])
        #expect(rules.contains("type filter hook forward priority filter + 10; policy accept;\n"
            + "    ct state established,related accept\n"))
        #expect(rules.contains("oifname \"veemb1000\" ip daddr 10.10.0.10 jump in-1000-10-10-0-10"))
        #expect(rules.contains("""
              chain in-1000-10-10-0-10 {
                ip saddr { 0.0.0.0/0 } tcp dport 80 accept
                ip saddr { 10.10.0.11/32 } tcp dport 8000-8100 accept
                ip saddr { 10.0.0.0/8 } meta l4proto icmp icmp type 8 accept
                ip saddr { 10.10.0.12/32 } accept
                ip saddr @group-1 accept
                ip saddr @group-0 accept
                drop
              }
            """))
        // A group is a set of its members' addresses (an empty one, too).
        #expect(rules.contains("set group-1 {\n    type ipv4_addr\n    comment \"vpc-1/sg-web\"\n    elements = { 10.10.0.10 }\n  }"))
        #expect(rules.contains("set group-0 {\n    type ipv4_addr\n    comment \"vpc-1/sg-db\"\n  }"))
        // Open egress has no chain; db may send only UDP into its subnet, and nothing may reach it.
        #expect(!rules.contains("jump out-1000-10-10-0-10"))
        #expect(rules.contains("iifname \"veemb1000\" ip saddr 10.10.0.11 jump out-1000-10-10-0-11"))
        #expect(rules.contains("chain out-1000-10-10-0-11 {\n    ip daddr { 10.10.0.0/24 } meta l4proto udp accept\n    drop\n  }"))
        #expect(rules.contains("chain in-1000-10-10-0-11 {\n    drop\n  }"))
        #expect(!NetworkPlan.ruleset([network1000]).contains("jump in-"), "no groups, nothing filtered")
    }

    var network1000: DesiredNetwork {
        DesiredNetwork(vni: 1000, subnet: IPv4Network("10.10.0.0/24")!, leases: [:], peers: [])
    }

    @Test func theKernelAcceptsSecurityGroups() async throws {
        try await HostCommands().run(["nft", "-c", "-f", "-"],
                                     stdin: NetworkPlan.ruleset([Self.firewalled], metadataPort: 8775))
    }
}

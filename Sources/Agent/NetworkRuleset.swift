import VMI

/// veem's two nftables tables, replaced whole in one transaction.
/// - `bridge veem`:
///   - each member's tap carries only its own MAC and address (and 0.0.0.0 for DHCP): a guest cannot pass for
///     another, which is what lets the metadata service know a VEE by its address on a network;
///   - each network's gateway (the same address and MAC on every host) and its DHCP stay on their host: nothing
///     from the gateway's MAC and no DHCP crosses a VXLAN port;
///   - `SPEED(net)` is a rate limit on each member's tap there, both ways, whether the other end is on the
///     bridge, behind the VXLAN or the host itself. nftables lets a byte limit burst by one second's worth (its
///     bucket holds rate + burst); no burst is added to that.
/// - `inet veem`:
///   - each network's traffic with the host is tracked in a conntrack zone of its own, since networks may share
///     a subnet;
///   - 169.254.169.254:80 from a network goes to the metadata listener on its bridge;
///   - a VEE reaches its host only for DHCP, ping and metadata;
///   - the host routes nothing out of a network's subnet (isolated LANs; a router per VPC comes with VPCs);
///   - EC2 instances' security groups, statefully, at their addresses (`securityGroups`).
extension NetworkPlan {
    /// EC2's address for the instance metadata service.
    static let metadataAddress = "169.254.169.254"

    /// The conntrack zone of a network's traffic with its host: 1–65535 (zones are 16 bits; two networks on one
    /// host collide only when their VNIs are 65535 apart).
    static func conntrackZone(_ vni: Int) -> Int { (vni - 1) % 65535 + 1 }

    /// `metadataPort`: where each bridge's metadata listener is (nil: no metadata service).
    static func ruleset(_ networks: [DesiredNetwork], metadataPort: Int? = nil) -> String {
        let sorted = networks.sorted { $0.vni < $1.vni }
        let macs = sorted.map { NetworkNames.gatewayMAC($0.vni) }
        let limits = sorted.flatMap { $0.limits.sorted { $0.key < $1.key } }
        let bridges = "\"\(NetworkNames.bridgePrefix)*\"", vxlans = "\"\(NetworkNames.vxlanPrefix)*\""
        var text = """
            table bridge veem
            delete table bridge veem
            table inet veem
            delete table inet veem
            table bridge veem {

            """
        for (tap, rate) in limits {
            let bytes = max(1, Int(rate.rounded()))
            for direction in ["in", "out"] { text += "  limit \(direction)-\(tap) { rate over \(bytes) bytes/second }\n" }
        }
        text += """
              chain prerouting {
                type filter hook prerouting priority -200; policy accept;

            """
        for network in sorted {
            for (mac, address) in network.leases.sorted(by: { $0.key < $1.key }) {
                let tap = "\"\(NetworkNames.tap(mac: mac))\""
                text += "    iifname \(tap) ether saddr != \(mac) drop\n"
                text += "    iifname \(tap) ether type ip ip saddr != { 0.0.0.0, \(address) } drop\n"
                text += "    iifname \(tap) ether type arp arp saddr ip != { 0.0.0.0, \(address) } drop\n"
            }
        }
        text += "  }\n"
        // Out of a guest: what enters from its tap (forwarded, or to the host); into it: what leaves to its tap.
        func limited(_ hook: String) -> String {
            limits.map { tap, _ in
                (hook == "output" ? "" : "    iifname \"\(tap)\" limit name \"out-\(tap)\" drop\n")
                    + (hook == "input" ? "" : "    oifname \"\(tap)\" limit name \"in-\(tap)\" drop\n")
            }.joined()
        }
        text += """
              chain output {
                type filter hook output priority 0; policy accept;

            """
        if !macs.isEmpty { text += "    oifname \(vxlans) ether saddr { \(macs.joined(separator: ", ")) } drop\n" }
        text += limited("output")
        text += """
              }
              chain input {
                type filter hook input priority 0; policy accept;

            """
        text += limited("input")
        text += """
              }
              chain forward {
                type filter hook forward priority 0; policy accept;
                iifname \(vxlans) udp dport { 67, 68 } drop
                oifname \(vxlans) udp dport { 67, 68 } drop

            """
        text += limited("forward")
        text += """
              }
            }
            table inet veem {
              chain zone-in {
                type filter hook prerouting priority raw; policy accept;

            """
        for network in sorted {
            text += "    iifname \"\(NetworkNames.bridge(network.vni))\" ct zone set \(conntrackZone(network.vni))\n"
        }
        text += """
              }
              chain zone-out {
                type filter hook output priority raw; policy accept;

            """
        for network in sorted {
            text += "    oifname \"\(NetworkNames.bridge(network.vni))\" ct zone set \(conntrackZone(network.vni))\n"
        }
        text += """
              }
              chain metadata {
                type nat hook prerouting priority dstnat; policy accept;

            """
        if let metadataPort {
            for network in sorted {
                text += "    iifname \"\(NetworkNames.bridge(network.vni))\" ip daddr \(metadataAddress) tcp dport 80 "
                    + "dnat ip to \(network.gateway):\(metadataPort)\n"
            }
        }
        text += """
              }
              chain input {
                type filter hook input priority 0; policy accept;
                iifname \(bridges) udp dport 67 accept
                iifname \(bridges) icmp type echo-request accept
                iifname \(bridges) ct state established,related accept

            """
        if let metadataPort { text += "    iifname \(bridges) tcp dport \(metadataPort) ct status dnat accept\n" }
        text += """
                iifname \(bridges) drop
              }
              chain forward {
                type filter hook forward priority 0; policy accept;

            """
        for network in sorted {
            let bridge = "\"\(NetworkNames.bridge(network.vni))\""
            text += "    iifname \(bridge) ip daddr != \(network.subnet) drop\n"
            text += "    oifname \(bridge) ip saddr != \(network.subnet) drop\n"
        }
        text += "  }\n"
        text += securityGroups(sorted)
        text += "}\n"
        return text
    }

    /// Security groups, after the forward chain: bridged IPv4 passes the inet hooks (bridge-nf-call-iptables,
    /// which the agent turns on), and conntrack follows it in its network's zone. Each firewalled VEE's address on
    /// its bridge names it, as its tap can carry no other: what goes to it is dropped unless a rule allows it,
    /// what it sends is dropped only when its egress rules do not allow it; replies always pass. A group a rule
    /// names is a set of its members' addresses.
    static func securityGroups(_ networks: [DesiredNetwork]) -> String {
        let firewalls = networks.flatMap { network in network.firewalls.map { (network.vni, $0) } }
            .sorted { ($0.0, $0.1.address) < ($1.0, $1.1.address) }
        var members: [String: [String]] = [:]
        for network in networks { members.merge(network.groupMembers) { a, _ in a } }
        let sets = Dictionary(uniqueKeysWithValues: members.keys.sorted().enumerated().map { ($1, "group-\($0)") })
        var text = ""
        for (group, name) in sets.sorted(by: { $0.value < $1.value }) {
            // The group's id in a comment: sets need short names.
            text += "  set \(name) {\n    type ipv4_addr\n    comment \"\(group)\"\n"
            if let addresses = members[group], !addresses.isEmpty {
                text += "    elements = { \(addresses.joined(separator: ", ")) }\n"
            }
            text += "  }\n"
        }
        text += """
              chain groups {
                type filter hook forward priority filter + 10; policy accept;
                ct state established,related accept

            """
        var chains = ""
        func chain(_ name: String, _ rules: [FirewallRule], peer: String) -> String {
            "  chain \(name) {\n" + rules.flatMap { self.rules($0, peer: peer, sets: sets) }.map { "    \($0)\n" }.joined()
                + "    drop\n  }\n"
        }
        for (vni, firewall) in firewalls {
            let bridge = "\"\(NetworkNames.bridge(vni))\""
            let name = "\(vni)-" + firewall.address.replacingOccurrences(of: ".", with: "-")
            text += "    oifname \(bridge) ip daddr \(firewall.address) jump in-\(name)\n"
            chains += chain("in-\(name)", firewall.ingress, peer: "saddr")
            if let egress = firewall.egress {
                text += "    iifname \(bridge) ip saddr \(firewall.address) jump out-\(name)\n"
                chains += chain("out-\(name)", egress, peer: "daddr")
            }
        }
        return text + "  }\n" + chains
    }

    /// One permission as accepting rules, one for its CIDRs and one per group; `peer`: which address is the other
    /// end's (`saddr` coming in).
    static func rules(_ rule: FirewallRule, peer: String, sets: [String: String]) -> [String] {
        var match = ""
        func range(_ from: Int?, _ to: Int?) -> String? {
            guard let from, from >= 0 else { return nil }
            guard let to, to > from else { return "\(from)" }
            return "\(from)-\(to)"
        }
        switch rule.ipProtocol {
        case "tcp", "udp":
            match = range(rule.fromPort, rule.toPort).map { " \(rule.ipProtocol) dport \($0)" }
                ?? " meta l4proto \(rule.ipProtocol)"
        case "icmp":
            match = " meta l4proto icmp"
            if let type = rule.fromPort, type >= 0 { match += " icmp type \(type)" }
            if let code = rule.toPort, code >= 0 { match += " icmp code \(code)" }
        default:
            break
        }
        var peers = rule.cidrs.isEmpty ? [] : ["{ \(rule.cidrs.joined(separator: ", ")) }"]
        peers += (rule.groups ?? []).compactMap { sets[$0].map { "@\($0)" } }
        return peers.map { "ip \(peer) \($0)\(match) accept" }
    }
}

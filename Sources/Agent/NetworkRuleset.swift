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
///   - the host routes nothing out of a network's subnet (isolated LANs; a router per VPC comes with VPCs).
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
        text += "  }\n}\n"
        return text
    }
}

import Foundation
import VMI

/// How veem names what it makes on a host, so that everything it owns is recognisably its own and nothing of the
/// operator's is ever touched: devices carry the network's VNI, taps the VEE's MAC.
enum NetworkNames {
    static let bridgePrefix = "veemb"
    static let vxlanPrefix = "veemx"
    static let tapPrefix = "veemt"

    static func bridge(_ vni: Int) -> String { "\(bridgePrefix)\(vni)" }
    static func vxlan(_ vni: Int) -> String { "\(vxlanPrefix)\(vni)" }
    /// `veemt` and the MAC's last three bytes: unique on the host, since MACs are unique in the site.
    static func tap(mac: String) -> String {
        tapPrefix + mac.split(separator: ":").suffix(3).joined().lowercased()
    }

    /// The gateway's MAC on a network, the same on every host (as the gateway address is): 02:76:65 ("ve",
    /// locally administered) and the VNI.
    static func gatewayMAC(_ vni: Int) -> String {
        String(format: "02:76:65:%02x:%02x:%02x", (vni >> 16) & 0xff, (vni >> 8) & 0xff, vni & 0xff)
    }

    /// The VNI in a veem device name with `prefix`; nil for any other name.
    static func vni(in name: String, prefix: String) -> Int? {
        guard name.hasPrefix(prefix) else { return nil }
        return Int(name.dropFirst(prefix.count))
    }
}

/// What one network should look like on this host.
struct DesiredNetwork: Equatable, Sendable {
    var vni: Int
    var subnet: IPv4Network
    /// The VEEs' leases on this host: MAC → address.
    var leases: [String: String]
    /// Underlay addresses of the other hosts with members.
    var peers: Set<String>
    /// `SPEED(net)`: each limited member's tap → bytes per second, each way.
    var limits: [String: Double] = [:]
    /// The security groups of members here that have any (EC2 instances), and the members' addresses of every
    /// group their rules name.
    var firewalls: [VEEFirewall] = []
    var groupMembers: [String: [String]] = [:]
    var gateway: IPv4Address { subnet.host(1)! }

    /// dnsmasq's static leases, one `mac,address` line each, sorted so that equal sets give equal files.
    var hostsFile: String {
        leases.sorted { $0.key < $1.key }.map { "\($0.key),\($0.value)\n" }.joined()
    }
}

/// What the host has of veem's networks, read from `ip`, `bridge` and the network directories.
struct ObservedNetworks: Equatable, Sendable {
    struct Network: Equatable, Sendable {
        var bridge = false
        /// `address/prefix` on the bridge.
        var bridgeAddresses: Set<String> = []
        var bridgeMAC: String?
        var bridgeUp = false
        var vxlan = false
        var vxlanLocal: String?
        var vxlanAttached = false
        var vxlanUp = false
        var floods: Set<String> = []
        var dnsmasqRunning = false
        /// Started with today's arguments (the metadata service's route among its options); an older one is
        /// started again.
        var dnsmasqCurrent = true
        var hostsFile: String?
    }

    var networks: [Int: Network] = [:]
    /// The ruleset last loaded into nftables by this agent; nil after a start, so the first pass always loads it.
    var ruleset: String?
}

/// One change to a host's networks; the applier runs them in order.
enum NetworkStep: Equatable, Sendable {
    case createBridge(vni: Int, mac: String)
    case addBridgeAddress(vni: Int, address: String)
    case removeBridgeAddress(vni: Int, address: String)
    case setBridgeUp(vni: Int)
    /// Removed first when its local address is wrong (the underlay address changed).
    case createVXLAN(vni: Int, local: String)
    case removeVXLAN(vni: Int)
    case attachVXLAN(vni: Int)
    case addFlood(vni: Int, peer: String)
    case removeFlood(vni: Int, peer: String)
    case writeLeases(vni: Int, hostsFile: String)
    case startDHCP(vni: Int, subnet: IPv4Network)
    case reloadDHCP(vni: Int, subnet: IPv4Network)
    case stopDHCP(vni: Int)
    case removeBridge(vni: Int)
    case loadRuleset(String)
}

/// Turns (desired, observed) into the steps between them. Pure, so it is tested on values; repeating a plan's
/// outcome plans nothing.
enum NetworkPlan {
    static func steps(desired: [DesiredNetwork], observed: ObservedNetworks, underlay: String,
                      metadataPort: Int? = nil) -> [NetworkStep] {
        var steps: [NetworkStep] = []
        let wanted = Dictionary(desired.map { ($0.vni, $0) }, uniquingKeysWith: { a, _ in a })
        for network in desired.sorted(by: { $0.vni < $1.vni }) {
            let vni = network.vni
            let seen = observed.networks[vni] ?? ObservedNetworks.Network()
            if !seen.bridge { steps.append(.createBridge(vni: vni, mac: NetworkNames.gatewayMAC(vni))) }
            let address = "\(network.gateway)/\(network.subnet.prefixLength)"
            for stale in seen.bridgeAddresses.subtracting([address]).sorted() {
                steps.append(.removeBridgeAddress(vni: vni, address: stale))
            }
            if !seen.bridgeAddresses.contains(address) { steps.append(.addBridgeAddress(vni: vni, address: address)) }
            if !seen.bridgeUp || !seen.bridge { steps.append(.setBridgeUp(vni: vni)) }
            var floods = seen.floods
            if seen.vxlan, seen.vxlanLocal != underlay {
                steps.append(.removeVXLAN(vni: vni))
                floods = []
            }
            if !seen.vxlan || seen.vxlanLocal != underlay {
                steps.append(.createVXLAN(vni: vni, local: underlay))
                steps.append(.attachVXLAN(vni: vni))
                floods = []
            } else if !seen.vxlanAttached || !seen.vxlanUp {
                steps.append(.attachVXLAN(vni: vni))
            }
            for peer in network.peers.subtracting(floods).sorted() { steps.append(.addFlood(vni: vni, peer: peer)) }
            for peer in floods.subtracting(network.peers).sorted() { steps.append(.removeFlood(vni: vni, peer: peer)) }
            let hosts = network.hostsFile
            if seen.hostsFile != hosts { steps.append(.writeLeases(vni: vni, hostsFile: hosts)) }
            if seen.dnsmasqRunning, !seen.dnsmasqCurrent {
                steps.append(.stopDHCP(vni: vni))
                steps.append(.writeLeases(vni: vni, hostsFile: hosts))
                steps.append(.startDHCP(vni: vni, subnet: network.subnet))
            } else if !seen.dnsmasqRunning {
                steps.append(.startDHCP(vni: vni, subnet: network.subnet))
            } else if seen.hostsFile != hosts {
                steps.append(.reloadDHCP(vni: vni, subnet: network.subnet))
            }
        }
        let ruleset = Self.ruleset(desired, metadataPort: metadataPort)
        if observed.ruleset != ruleset { steps.append(.loadRuleset(ruleset)) }
        // Networks with no member here any more: everything veem made for them goes, the DHCP server first.
        for vni in observed.networks.keys.sorted() where wanted[vni] == nil {
            let seen = observed.networks[vni]!
            if seen.dnsmasqRunning || seen.hostsFile != nil { steps.append(.stopDHCP(vni: vni)) }
            if seen.vxlan { steps.append(.removeVXLAN(vni: vni)) }
            if seen.bridge { steps.append(.removeBridge(vni: vni)) }
        }
        return steps
    }
}

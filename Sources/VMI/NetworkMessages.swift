/// A VEE's interface on one of its networks, as the coordinator allocated it: everything its host needs to wire it
/// (bridge, VXLAN segment, static DHCP lease, bandwidth limit) without asking anyone.
public struct VEEInterface: Codable, Sendable, Equatable {
    /// The network's name where the VEE was asked for (`RED` in a manifest).
    public var network: String
    /// The network's VXLAN id, unique in the site: it names the network's devices on every host.
    public var vni: Int
    /// Unique in the site.
    public var mac: String
    /// The VEE's address, unique in its network; DHCP hands it out.
    public var address: String
    /// The network's subnet (`10.128.0.0/24`).
    public var subnet: String
    /// `SPEED(net)`: the interface's limit each way, in bytes per second.
    public var bytesPerSecond: Double?

    public init(network: String, vni: Int, mac: String, address: String, subnet: String,
                bytesPerSecond: Double? = nil) {
        self.network = network
        self.vni = vni
        self.mac = mac
        self.address = address
        self.subnet = subnet
        self.bytesPerSecond = bytesPerSecond
    }

    /// The host side of the network on every host: the first address of the subnet (DHCP server, later the
    /// router). The same on each host, and kept off the VXLAN segment by each host.
    public var gateway: String? {
        IPv4Network(subnet).flatMap { $0.host(1) }.map(\.description)
    }
}

/// Tells an agent, for each network it has members of, which other hosts have members too (their underlay
/// addresses): the VXLAN head-end replication list. Level-triggered and complete: a network not listed has no
/// peers. Sent when the membership changes and after each registration.
public struct HostNetworks: VMIBody, Equatable {
    public static let messageType = MessageType.hostNetworks
    public var host: String
    /// Bumped by every change; an agent ignores one older than the last it applied.
    public var generation: Int
    public var networks: [NetworkPeers]
    /// The security groups of this host's VEEs, as each of their interfaces enforces them; absent: none has any
    /// (a service's VEEs are open to their LAN).
    public var firewalls: [VEEFirewall]?
    /// The members' addresses of each group those firewalls' rules name (`<vpc id>/<group id>`).
    public var groupMembers: [String: [String]]?

    public init(host: String, generation: Int, networks: [NetworkPeers], firewalls: [VEEFirewall]? = nil,
                groupMembers: [String: [String]]? = nil) {
        self.host = host
        self.generation = generation
        self.networks = networks
        self.firewalls = firewalls
        self.groupMembers = groupMembers
    }
}

/// An EC2 instance's security groups, resolved for its host: who may open connections to its address on its
/// network, and where it may open them. Replies to an allowed connection always pass (stateful).
public struct VEEFirewall: Codable, Sendable, Equatable {
    public var vee: String
    public var vni: Int
    public var address: String
    /// The groups it is a member of (`<vpc id>/<group id>`): rules that name one allow its address.
    public var groups: [String]
    /// What may come in; anything else new is dropped.
    public var ingress: [FirewallRule]
    /// What may go out; nil: everything (EC2's default egress rule).
    public var egress: [FirewallRule]?

    public init(vee: String, vni: Int, address: String, groups: [String], ingress: [FirewallRule],
                egress: [FirewallRule]?) {
        self.vee = vee
        self.vni = vni
        self.address = address
        self.groups = groups
        self.ingress = ingress
        self.egress = egress
    }

    /// Every group its rules name.
    public var referencedGroups: Set<String> {
        Set((ingress + (egress ?? [])).flatMap { $0.groups ?? [] })
    }
}

/// One permission: a protocol (`tcp`, `udp`, `icmp`, or `-1` for all), a port range (for ICMP, the type and code;
/// nil or -1: any) and the other ends: CIDRs, and groups whose members' addresses the host is told.
public struct FirewallRule: Codable, Sendable, Equatable, Hashable {
    public var ipProtocol: String
    public var fromPort: Int?
    public var toPort: Int?
    public var cidrs: [String]
    public var groups: [String]?

    public init(ipProtocol: String, fromPort: Int? = nil, toPort: Int? = nil, cidrs: [String] = [],
                groups: [String]? = nil) {
        self.ipProtocol = ipProtocol
        self.fromPort = fromPort
        self.toPort = toPort
        self.cidrs = cidrs
        self.groups = groups
    }
}

public struct NetworkPeers: Codable, Sendable, Equatable {
    public var vni: Int
    /// Underlay addresses of the other hosts with members, sorted.
    public var peers: [String]

    public init(vni: Int, peers: [String]) {
        self.vni = vni
        self.peers = peers
    }
}

/// A network as the site has it (ServiceInformation, veemctl).
public struct NetworkView: Codable, Sendable, Equatable {
    public var name: String
    /// The service it belongs to; absent for a network of lone VEEs.
    public var service: String?
    public var vni: Int
    public var subnet: String
    public var bytesPerSecond: Double?
    /// How many VEEs not destroyed have an interface on it, and on which hosts.
    public var members: Int
    public var hosts: [String]

    public init(name: String, service: String?, vni: Int, subnet: String, bytesPerSecond: Double?, members: Int,
                hosts: [String]) {
        self.name = name
        self.service = service
        self.vni = vni
        self.subnet = subnet
        self.bytesPerSecond = bytesPerSecond
        self.members = members
        self.hosts = hosts
    }
}

import Foundation
import Hypervisor
import InstanceMetadata
import Logging
import VMI

/// This host's share of the site's networks. What it should have follows from two things only: the interfaces of
/// the VEEs it holds (from their commands, and after a restart from their domains) and the peers the coordinator
/// names for each network. Every change is followed by a pass that reads the host and plans from scratch
/// (`NetworkPlan`), so a pass repeated, or run after a restart, changes nothing that is already right.
public actor HostNetworking {
    /// Off (no underlay address set): VEEs get no interfaces here, and nothing on the host is touched.
    public nonisolated let enabled: Bool
    private let underlay: String
    private let applier: NetworkApplier
    private let logger: Logger
    /// The VEEs here with interfaces, as the metadata service describes them.
    private var members: [String: MetadataGuest] = [:]
    private var metadata: MetadataServer?
    private var peers: [Int: Set<String>] = [:]
    /// Security groups of this host's VEEs, by VEE, as the coordinator last named them.
    private var firewalls: [String: VEEFirewall] = [:]
    /// The members' addresses of each group those firewalls name.
    private var groupMembers: [String: [String]] = [:]
    private var peersGeneration = -1
    private var ruleset: String?
    // Passes run one at a time; a caller returns once a pass that began after its change has ended.
    private var requested = 0
    private var completed = 0
    private var running = false
    private var lastFailure: (any Error)?
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// This host's group: its guests' availability zone.
    private nonisolated let zone: String
    /// Where each bridge's metadata listener is; nil: no metadata service.
    private let metadataPort: Int?

    /// `underlay`: this host's VXLAN address (nil: networking off); `directory`: where DHCP servers keep files;
    /// `metadataPort`: the port of the metadata listeners (nil: no metadata service).
    public init(underlay: String?, directory: String, mtu: Int, metadataPort: Int? = nil, zone: String = "default",
                logger: Logger) {
        self.zone = zone
        enabled = underlay != nil
        self.underlay = underlay ?? ""
        self.metadataPort = metadataPort
        var applier = NetworkApplier(directory: directory, mtu: mtu, commands: HostCommands())
        applier.metadata = metadataPort != nil
        self.applier = applier
        self.logger = logger
        peersFile = "\(directory)/peers.json"
        // The peers last applied, so that a restart leaves the flood lists as they are until the coordinator
        // speaks: an agent restart must not cut a network's traffic between hosts.
        if let data = FileManager.default.contents(atPath: peersFile),
           let last = try? JSONDecoder().decode(HostNetworks.self, from: data) {
            peersGeneration = last.generation
            peers = Self.peerSets(last)
            firewalls = Self.firewallsByVEE(last)
            groupMembers = last.groupMembers ?? [:]
        }
    }

    private let peersFile: String

    private static func peerSets(_ networks: HostNetworks) -> [Int: Set<String>] {
        Dictionary(networks.networks.map { ($0.vni, Set($0.peers)) }, uniquingKeysWith: { $1 })
    }

    private static func firewallsByVEE(_ networks: HostNetworks) -> [String: VEEFirewall] {
        Dictionary((networks.firewalls ?? []).map { ($0.vee, $0) }, uniquingKeysWith: { $1 })
    }

    /// The domain interfaces for a VEE's interfaces on this host.
    nonisolated func domainInterfaces(_ interfaces: [VEEInterface]) -> [DomainXML.Interface] {
        guard enabled else { return [] }
        return interfaces.map {
            DomainXML.Interface(bridge: NetworkNames.bridge($0.vni), mac: $0.mac, tap: NetworkNames.tap(mac: $0.mac),
                                mtu: applier.mtu)
        }
    }

    /// The metadata service whose listeners follow this host's networks (one per bridge, opened after each pass).
    public func serveMetadata(_ server: MetadataServer) { metadata = server }

    /// The VEE that has `address` on network `vni` here: who a metadata request comes from. The host's rules
    /// let a tap carry only its VEE's own address, so the address names the VEE.
    public func guest(vni: Int, address: String) -> MetadataGuest? {
        members.values.first { $0.interface(vni: vni, address: address) != nil }
    }

    /// A domain as a network member and metadata guest.
    nonisolated func guest(_ record: DomainRecord) -> MetadataGuest {
        MetadataGuest(vee: record.vee, name: record.spec.name, zone: zone, interfaces: record.interfaces,
                      context: record.spec.context)
    }

    /// Notes a VEE's interfaces without wiring them yet (adopting domains after a restart).
    func adopt(_ guest: MetadataGuest) {
        members[guest.vee] = guest.interfaces.isEmpty ? nil : guest
    }

    /// Wires a VEE's networks on this host (bridge, VXLAN, its lease) before its domain starts.
    public func attach(_ guest: MetadataGuest) async throws {
        let member = guest.interfaces.isEmpty ? nil : guest
        guard enabled, members[guest.vee] != member else { return }
        let rewire = members[guest.vee]?.interfaces != member?.interfaces
        members[guest.vee] = member
        // A new context (user data, keys) alone changes nothing on the host.
        if rewire { try await settle() }
    }

    /// A VEE left the host: its leases go, and networks left without members here go entirely.
    public func detach(_ vee: String) async throws {
        guard enabled, members.removeValue(forKey: vee) != nil else { return }
        try await settle()
    }

    /// The coordinator's peer lists; an older generation than one applied is ignored. A coordinator whose
    /// inventory was replaced starts generations again: its first list (generation 1) is always taken.
    public func setPeers(_ networks: HostNetworks) async throws {
        guard enabled, networks.generation > peersGeneration || networks.generation <= 1 else { return }
        peersGeneration = networks.generation
        peers = Self.peerSets(networks)
        firewalls = Self.firewallsByVEE(networks)
        groupMembers = networks.groupMembers ?? [:]
        try? FileManager.default.createDirectory(atPath: applier.directory, withIntermediateDirectories: true)
        try? JSONEncoder().encode(networks).write(to: URL(fileURLWithPath: peersFile), options: .atomic)
        try await settle()
    }

    /// What should be on the host now.
    var desired: [DesiredNetwork] {
        var networks: [Int: DesiredNetwork] = [:]
        for member in members.values {
            for interface in member.interfaces {
                add(interface, firewall: firewalls[member.vee].flatMap {
                    $0.vni == interface.vni && $0.address == interface.address ? $0 : nil
                }, to: &networks)
            }
        }
        return Array(networks.values)
    }

    private func add(_ interface: VEEInterface, firewall: VEEFirewall?, to networks: inout [Int: DesiredNetwork]) {
        guard let subnet = IPv4Network(interface.subnet) else { return }
        networks[interface.vni, default: DesiredNetwork(vni: interface.vni, subnet: subnet, leases: [:],
                                                        peers: peers[interface.vni] ?? [])]
            .leases[interface.mac] = interface.address
        if let rate = interface.bytesPerSecond {
            networks[interface.vni]!.limits[NetworkNames.tap(mac: interface.mac)] = rate
        }
        if let firewall {
            networks[interface.vni]!.firewalls.append(firewall)
            for group in firewall.referencedGroups { networks[interface.vni]!.groupMembers[group] = groupMembers[group] ?? [] }
        }
    }

    /// Runs passes until one that began after this call's change has ended; throws what that pass failed with.
    func settle() async throws {
        guard enabled else { return }
        requested += 1
        let mine = requested
        while completed < mine {
            if running {
                await withCheckedContinuation { waiters.append($0) }
                continue
            }
            running = true
            let covering = requested
            do {
                try await pass()
                lastFailure = nil
            } catch {
                lastFailure = error
                ruleset = nil  // unknown after a failure: load it again next time
                logger.error("host networks not converged", metadata: ["error": "\(error)"])
            }
            await openListeners(desired)
            completed = covering
            running = false
            let woken = waiters
            waiters = []
            woken.forEach { $0.resume() }
        }
        if let lastFailure { throw lastFailure }
    }

    private func pass() async throws {
        let desired = self.desired
        logger.debug("host networks pass", metadata: ["peers": "\(peers)", "generation": "\(peersGeneration)"])
        let observed = try await applier.observe(ruleset: ruleset)
        let steps = NetworkPlan.steps(desired: desired, observed: observed, underlay: underlay,
                                      metadataPort: metadataPort)
        guard !steps.isEmpty else { return }
        for step in steps {
            try await applier.apply(step)
            if case .loadRuleset(let text) = step { ruleset = text }
        }
        logger.info("host networks converged", metadata: ["networks": "\(desired.count)", "steps": "\(steps.count)"])
    }

    /// One metadata listener per network here, at its gateway on its bridge; those of networks gone are closed.
    /// A listener that could not open (its bridge is missing after a failed pass) is tried by the next pass.
    private func openListeners(_ desired: [DesiredNetwork]) async {
        guard let metadata else { return }
        let wanted = Set(desired.map {
            MetadataServer.Listener(vni: $0.vni, device: NetworkNames.bridge($0.vni), address: "\($0.gateway)")
        })
        await metadata.serve(wanted)
    }
}

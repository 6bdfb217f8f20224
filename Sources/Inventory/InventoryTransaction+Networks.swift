import Foundation
import GRDB
import VMI

/// A network a new VEE joins, as its requester names it.
public struct NetworkRequest: Sendable, Equatable {
    /// The service the network belongs to; "" for networks of lone VEEs, which the site shares by name.
    public var scope: String
    public var name: String
    /// The subnet asked for; nil takes the next free one from the site's pool. Only a network's first member
    /// decides it.
    public var subnet: IPv4Network?
    public var bytesPerSecond: Double?
    /// The member's address, when its requester chose it (EC2's PrivateIpAddress); nil takes the lowest free one.
    public var address: IPv4Address?

    public init(scope: String, name: String, subnet: IPv4Network? = nil, bytesPerSecond: Double? = nil,
                address: IPv4Address? = nil) {
        self.scope = scope
        self.name = name
        self.subnet = subnet
        self.bytesPerSecond = bytesPerSecond
        self.address = address
    }
}

/// Where networks without a subnet of their own take one: consecutive subnets of one length inside a pool.
public struct NetworkPool: Sendable, Equatable {
    public var pool: IPv4Network
    public var prefixLength: Int

    public init(pool: IPv4Network, prefixLength: Int) {
        self.pool = pool
        self.prefixLength = prefixLength
    }

    public static let `default` = NetworkPool(pool: IPv4Network("10.128.0.0/9")!, prefixLength: 24)
}

/// Site-wide allocation of everything a network needs to be unique: VNIs, subnets, MACs and addresses. Unique
/// constraints make a duplicate impossible, not merely unlikely.
extension InventoryTransaction {
    static let vniRange = 1000...16_777_215
    /// Addresses handed out start here: below are the gateway and room an operator may want (as EC2 keeps some).
    static let firstMemberOffset: UInt32 = 10

    /// Allocates `vee`'s interfaces, one per network, creating each network its first member names.
    func attachInterfaces(vee: String, networks: [NetworkRequest], pool: NetworkPool) throws -> [VEEInterface] {
        var interfaces: [VEEInterface] = []
        for request in networks {
            let network = try ensureNetwork(request, pool: pool)
            let mac = try freeMAC()
            let address = try request.address.map { try chosenAddress($0, vni: network.vni, in: network.subnet) }
                ?? freeAddress(vni: network.vni, in: network.subnet)
            try execute(sql: "INSERT INTO interfaces (vee, vni, mac, address) VALUES (?, ?, ?, ?)",
                        arguments: [vee, network.vni, mac, address.description])
            interfaces.append(VEEInterface(network: request.name, vni: network.vni, mac: mac,
                                           address: address.description, subnet: network.subnet.description,
                                           bytesPerSecond: network.bytesPerSecond))
        }
        return interfaces
    }

    /// Frees a destroyed VEE's addresses and MACs; a network left without members goes too when nothing can
    /// join it again (a lone VEEs' network, or one of a service being undeployed). Returns the VNIs it was on.
    @discardableResult
    func releaseInterfaces(vee: String) throws -> Set<Int> {
        let vnis = Set(try Int.fetchAll(db, sql: "SELECT vni FROM interfaces WHERE vee = ?", arguments: [vee]))
        guard !vnis.isEmpty else { return [] }
        try setFirewall(nil, vee: vee)
        try execute(sql: "DELETE FROM interfaces WHERE vee = ?", arguments: [vee])
        for vni in vnis {
            try execute(sql: """
                DELETE FROM networks WHERE vni = ? AND NOT EXISTS (SELECT 1 FROM interfaces WHERE vni = ?)
                    AND (scope = '' OR scope NOT IN
                         (SELECT name FROM services WHERE state NOT IN ('UNDEPLOYING', 'UNDEPLOYED')))
                """, arguments: [vni, vni])
        }
        return vnis
    }

    private func ensureNetwork(_ request: NetworkRequest, pool: NetworkPool)
        throws -> (vni: Int, subnet: IPv4Network, bytesPerSecond: Double?) {
        if let row = try Row.fetchOne(db, sql: "SELECT vni, subnet, bytes_per_second FROM networks WHERE scope = ? AND name = ?",
                                      arguments: [request.scope, request.name]),
           let subnet = IPv4Network(row["subnet"] as String) {
            return (row["vni"], subnet, row["bytes_per_second"])
        }
        let taken = try String.fetchAll(db, sql: "SELECT subnet FROM networks").compactMap { IPv4Network($0) }
        let subnet = try request.subnet ?? freeSubnet(pool, avoiding: taken)
        let vni = try freeVNI()
        try execute(sql: """
            INSERT INTO networks (vni, scope, name, subnet, bytes_per_second, created_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [vni, request.scope, request.name, subnet.description, request.bytesPerSecond, Date()])
        return (vni, subnet, request.bytesPerSecond)
    }

    private func freeSubnet(_ pool: NetworkPool, avoiding taken: [IPv4Network]) throws -> IPv4Network {
        var index = 0
        while let candidate = pool.pool.subnet(index, length: pool.prefixLength) {
            if !taken.contains(where: { $0.overlaps(candidate) }) { return candidate }
            index += 1
        }
        throw VMIError(code: .insufficientCapacity, field: "networks",
                       message: "the site's network pool \(pool.pool) has no free /\(pool.prefixLength) left")
    }

    private func freeVNI() throws -> Int {
        let highest = try Int.fetchOne(db, sql: "SELECT MAX(vni) FROM networks") ?? (Self.vniRange.lowerBound - 1)
        if highest < Self.vniRange.upperBound { return highest + 1 }
        // Wrapped: the lowest gap.
        let gap = try Int.fetchOne(db, sql: """
            SELECT n.vni + 1 FROM networks n WHERE n.vni + 1 <= ?
                AND NOT EXISTS (SELECT 1 FROM networks m WHERE m.vni = n.vni + 1) ORDER BY n.vni LIMIT 1
            """, arguments: [Self.vniRange.upperBound])
        guard let gap else {
            throw VMIError(code: .insufficientCapacity, field: "networks", message: "every VXLAN id is in use")
        }
        return gap
    }

    /// A locally administered MAC in QEMU's range, unused in the site.
    private func freeMAC() throws -> String {
        while true {
            let hex = Array(RandomID.hex(digits: 6))
            let mac = "52:54:00:" + stride(from: 0, to: 6, by: 2).map { String(hex[$0..<$0 + 2]) }
                .joined(separator: ":")
            let used = try Bool.fetchOne(db, sql: "SELECT 1 FROM interfaces WHERE mac = ?", arguments: [mac]) ?? false
            if !used { return mac }
        }
    }

    /// The lowest free address of the subnet from `firstMemberOffset` (from .2 in subnets too small for that).
    private func freeAddress(vni: Int, in subnet: IPv4Network) throws -> IPv4Address {
        let used = Set(try String.fetchAll(db, sql: "SELECT address FROM interfaces WHERE vni = ?", arguments: [vni]))
        let first: UInt32 = subnet.size > 32 ? Self.firstMemberOffset : 2
        var offset = first
        while let address = subnet.host(offset), address != subnet.broadcast {
            if !used.contains(address.description) { return address }
            offset += 1
        }
        throw VMIError(code: .insufficientCapacity, field: "networks",
                       message: "network \(subnet) has no free address left")
    }

    /// A chosen address, if it is a member address of `subnet` nobody on the network holds.
    private func chosenAddress(_ address: IPv4Address, vni: Int, in subnet: IPv4Network) throws -> IPv4Address {
        guard subnet.contains(address), address != subnet.address, address != subnet.broadcast,
              address != subnet.host(1) else {
            throw VMIError(code: .invalidParameter, field: "networks",
                           message: "\(address) is not a member address of \(subnet)")
        }
        let used = try Bool.fetchOne(db, sql: "SELECT 1 FROM interfaces WHERE vni = ? AND address = ?",
                                     arguments: [vni, address.description]) ?? false
        guard !used else {
            throw VMIError(code: .invalidParameter, field: "networks", message: "\(address) is in use in \(subnet)")
        }
        return address
    }

    /// The addresses held on a network (by VEEs not yet reported destroyed); none when it has no members.
    public func addressesInUse(scope: String, network name: String) throws -> Set<String> {
        Set(try String.fetchAll(db, sql: """
            SELECT i.address FROM interfaces i JOIN networks n ON n.vni = i.vni WHERE n.scope = ? AND n.name = ?
            """, arguments: [scope, name]))
    }

    /// The VXLAN peers of every network `host` has members of, with the host's network generation bumped.
    public func hostNetworks(_ host: String) throws -> HostNetworks {
        try execute(sql: "UPDATE hosts SET network_generation = network_generation + 1 WHERE id = ?", arguments: [host])
        let generation = try Int.fetchOne(db, sql: "SELECT network_generation FROM hosts WHERE id = ?",
                                          arguments: [host]) ?? 0
        let rows = try Row.fetchAll(db, sql: """
            SELECT mi.vni AS vni, h.underlay AS underlay
            FROM interfaces mi JOIN vees mv ON mv.id = mi.vee AND mv.host = ?
                 LEFT JOIN interfaces oi ON oi.vni = mi.vni
                 LEFT JOIN vees ov ON ov.id = oi.vee AND ov.host != ?
                 LEFT JOIN hosts h ON h.id = ov.host AND h.underlay IS NOT NULL
            """, arguments: [host, host])
        var peers: [Int: Set<String>] = [:]
        for row in rows {
            let vni: Int = row["vni"]
            let underlay: String? = row["underlay"]
            peers[vni, default: []].formUnion(underlay.map { [$0] } ?? [])
        }
        let firewalls = try String.fetchAll(db, sql: """
            SELECT f.body FROM firewalls f JOIN vees v ON v.id = f.vee WHERE v.host = ? ORDER BY f.vee
            """, arguments: [host]).map { try InventoryCoding.decoder.decode(VEEFirewall.self, from: Data($0.utf8)) }
        var members: [String: [String]] = [:]
        for group in Set(firewalls.flatMap(\.referencedGroups)).sorted() {
            members[group] = try String.fetchAll(db, sql: """
                SELECT address FROM firewall_members WHERE grp = ? ORDER BY address
                """, arguments: [group])
        }
        return HostNetworks(host: host, generation: generation,
                            networks: peers.keys.sorted().map { NetworkPeers(vni: $0, peers: peers[$0]!.sorted()) },
                            firewalls: firewalls.isEmpty ? nil : firewalls, groupMembers: members.isEmpty ? nil : members)
    }

    /// Records what `vee` may receive and send (nil: no security groups, open to its LAN). Its host is told when
    /// its rules changed; the hosts whose rules name one of its groups when its membership did.
    public func setFirewall(_ firewall: VEEFirewall?, vee: String) throws {
        let previous = try self.firewall(vee: vee)
        guard previous != firewall else { return }
        if previous.map({ Set($0.groups) }) != firewall.map({ Set($0.groups) }) || previous?.address != firewall?.address {
            try execute(sql: "DELETE FROM firewall_members WHERE vee = ?", arguments: [vee])
            for group in Set(firewall?.groups ?? []).sorted() {
                try execute(sql: "INSERT INTO firewall_members (grp, vee, address) VALUES (?, ?, ?)",
                            arguments: [group, vee, firewall!.address])
            }
        }
        try execute(sql: "DELETE FROM firewall_refs WHERE vee = ?", arguments: [vee])
        for group in (firewall?.referencedGroups ?? []).sorted() {
            try execute(sql: "INSERT INTO firewall_refs (grp, vee) VALUES (?, ?)", arguments: [group, vee])
        }
        guard let firewall else {
            try execute(sql: "DELETE FROM firewalls WHERE vee = ?", arguments: [vee])
            return
        }
        let body = String(decoding: try InventoryCoding.encoder.encode(firewall), as: UTF8.self)
        // No upsert: an ON CONFLICT clause would also govern the triggers' INSERT OR IGNORE into network_changes.
        try execute(sql: previous == nil ? "INSERT INTO firewalls (body, vee) VALUES (?, ?)"
                        : "UPDATE firewalls SET body = ? WHERE vee = ?", arguments: [body, vee])
    }

    /// What `vee` may receive and send, as last recorded; nil when it has no security groups.
    public func firewall(vee: String) throws -> VEEFirewall? {
        try String.fetchOne(db, sql: "SELECT body FROM firewalls WHERE vee = ?", arguments: [vee])
            .map { try InventoryCoding.decoder.decode(VEEFirewall.self, from: Data($0.utf8)) }
    }

    /// What each host with members on a network whose membership changed in this transaction must now be told;
    /// clears the changes. Call last in a write transaction, and send the result once it commits.
    public func takeNetworkChanges() throws -> [HostNetworks] {
        let vnis = Set(try Int.fetchAll(db.cachedStatement(sql: "SELECT vni FROM network_changes")))
        guard !vnis.isEmpty else { return [] }
        try execute(sql: "DELETE FROM network_changes")
        let hosts = try String.fetchAll(db, sql: """
            SELECT DISTINCT v.host FROM interfaces i JOIN vees v ON v.id = i.vee JOIN hosts h ON h.id = v.host
            WHERE h.underlay IS NOT NULL AND i.vni IN (\(vnis.sorted().map(String.init).joined(separator: ",")))
            ORDER BY v.host
            """)
        return try hosts.map(hostNetworks)
    }

    /// The networks of a service ("" for lone VEEs'), with their members.
    public func networks(scope: String) throws -> [NetworkView] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT n.vni, n.name, n.subnet, n.bytes_per_second,
                   (SELECT COUNT(*) FROM interfaces i JOIN vees v ON v.id = i.vee
                    WHERE i.vni = n.vni AND v.desired != 'DESTROYED') AS members,
                   (SELECT GROUP_CONCAT(DISTINCT v.host) FROM interfaces i JOIN vees v ON v.id = i.vee
                    WHERE i.vni = n.vni) AS hosts
            FROM networks n WHERE n.scope = ? ORDER BY n.name
            """, arguments: [scope])
        return rows.map { row in
            let hosts: String? = row["hosts"]
            return NetworkView(name: row["name"], service: scope.isEmpty ? nil : scope, vni: row["vni"],
                               subnet: row["subnet"], bytesPerSecond: row["bytes_per_second"],
                               members: row["members"],
                               hosts: (hosts?.split(separator: ",").map(String.init) ?? []).sorted())
        }
    }
}

import Foundation
import VMI

/// Security groups as hosts enforce them: each live instance's groups resolved into one `VEEFirewall` at its
/// interface, rules merged per protocol and port range. A rule naming a group names it within the instance's VPC
/// (`<vpc id>/<group id>`); the inventory keeps each group's members, so a launch writes only the new instances'
/// firewalls and a rule change only its group's members'.
extension CloudCall {
    /// Records the firewalls of `instances` (those with an interface; terminated ones keep theirs until their VEE
    /// is destroyed, when the inventory drops it).
    func setFirewalls(_ instances: [Instance]) throws {
        guard !instances.isEmpty else { return }
        let groups = Dictionary(try all(SecurityGroupRecord.self).map { ($0.id, $0.body) }, uniquingKeysWith: { a, _ in a })
        for instance in instances where instance.vee.desired != .destroyed {
            guard let firewall = Self.firewall(of: instance, groups: groups) else { continue }
            try tx.setFirewall(firewall, vee: instance.vee.id)
        }
    }

    /// After a group's rules changed: every live member's firewall again.
    func setFirewalls(ofMembersOf group: String) throws {
        try setFirewalls(try instances().filter { $0.record.groups.contains(group) })
    }

    static func firewall(of instance: Instance, groups: [String: SecurityGroupRecord]) -> VEEFirewall? {
        guard let interface = instance.interface, let vpc = instance.record.vpcId else { return nil }
        let own = instance.record.groups.compactMap { groups[$0] }
        func resolve(_ rules: [SecurityGroupRecord.Rule]) -> [FirewallRule] {
            var order: [FirewallRule] = []
            var merged: [FirewallRule: (cidrs: Set<String>, groups: Set<String>)] = [:]
            for rule in rules {
                let key = FirewallRule(ipProtocol: rule.ipProtocol, fromPort: rule.fromPort, toPort: rule.toPort)
                if merged[key] == nil { order.append(key) }
                if let cidr = rule.cidr { merged[key, default: ([], [])].cidrs.insert(cidr) }
                if let group = rule.group { merged[key, default: ([], [])].groups.insert("\(vpc)/\(group)") }
            }
            return order.map { key in
                let peers = merged[key]!
                return FirewallRule(ipProtocol: key.ipProtocol, fromPort: key.fromPort, toPort: key.toPort,
                                    cidrs: peers.cidrs.sorted(), groups: peers.groups.isEmpty ? nil : peers.groups.sorted())
            }
        }
        let egress = own.flatMap(\.egress)
        let open = egress.contains { $0.ipProtocol == "-1" && $0.cidr == "0.0.0.0/0" }
        return VEEFirewall(vee: instance.vee.id, vni: interface.vni, address: interface.address,
                           groups: instance.record.groups.map { "\(vpc)/\($0)" }.sorted(),
                           ingress: resolve(own.flatMap(\.ingress)), egress: open ? nil : resolve(egress))
    }
}

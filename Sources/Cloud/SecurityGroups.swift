import EC2
import Foundation

/// A security group: its rules, enforced statefully at each member instance's interface on its host (`Firewalls`).
struct SecurityGroupRecord: StoredResource {
    static let kind = "security-group"
    var description: String
    var ingress: [Rule]
    var egress: [Rule]

    /// One permission for one source: a protocol, a port range, and a CIDR or a group.
    struct Rule: Codable, Equatable {
        var ipProtocol: String
        var fromPort: Int?
        var toPort: Int?
        var cidr: String?
        var group: String?
    }
}

extension CloudCall {
    /// The account's `default` group, made on first need: it lets its members talk and everything out, as on EC2.
    func defaultGroup() throws -> Owned<SecurityGroupRecord> {
        if let group = try named("default", SecurityGroupRecord.self) { return group }
        let id = ResourceID.make("sg")
        let record = SecurityGroupRecord(description: "default group",
                                         ingress: [.init(ipProtocol: "-1", group: id)],
                                         egress: [.init(ipProtocol: "-1", cidr: "0.0.0.0/0")])
        try insert(record, id: id, name: "default", duplicate: EC2Error("InternalError", "default group", status: 500))
        return try named("default", SecurityGroupRecord.self)!
    }

    func createSecurityGroup() throws -> [EC2XML.Node] {
        let name = try form.required("GroupName")
        let description = try form.required("GroupDescription")
        guard name.count <= 255, description.count <= 255, !name.hasPrefix("sg-") else {
            throw EC2Error.invalidParameterValue("GroupName", "must be at most 255 characters and not start with sg-")
        }
        _ = try defaultGroup()
        let id = ResourceID.make("sg")
        try insert(SecurityGroupRecord(description: description, ingress: [],
                                       egress: [.init(ipProtocol: "-1", cidr: "0.0.0.0/0")]),
                   id: id, name: name,
                   duplicate: EC2Error("InvalidGroup.Duplicate", "The security group '\(name)' already exists"))
        try applyTagSpecifications("security-group", to: [id])
        return [.text("return", "true"), .text("groupId", id), try tagSet(id)]
    }

    /// GroupId, or GroupName.
    func targetGroup() throws -> Owned<SecurityGroupRecord> {
        if let id = try optionalId("GroupId", prefix: "sg", code: "InvalidGroupId") {
            return try owned(id, SecurityGroupRecord.self, notFound: .notFound("InvalidGroup.NotFound", id,
                                                                               "security group"))
        }
        let name = try form["GroupName"] ?? { throw EC2Error.missingParameter("GroupId") }()
        if name == "default" { return try defaultGroup() }
        guard let group = try named(name, SecurityGroupRecord.self) else {
            throw EC2Error("InvalidGroup.NotFound", "The security group '\(name)' does not exist")
        }
        return group
    }

    func deleteSecurityGroup() throws -> [EC2XML.Node] {
        let group = try targetGroup()
        guard group.record.name != "default" else {
            throw EC2Error("CannotDelete", "the default security group cannot be deleted")
        }
        for instance in try instances() where instance.state != .terminated && instance.record.groups.contains(group.id) {
            throw EC2Error("DependencyViolation", "resource \(group.id) has a dependent object (\(instance.id))")
        }
        try tx.deleteResource(group.id)
        return [.text("return", "true"), .text("groupId", group.id)]
    }

    func describeSecurityGroups() throws -> [EC2XML.Node] {
        _ = try defaultGroup()
        let names = form.list("GroupName"), ids = try self.ids("GroupId", prefix: "sg", notFound: "InvalidGroupId")
        let page = try Page(form, idsGiven: !names.isEmpty || !ids.isEmpty, idName: "GroupId")
        var groups = try all(SecurityGroupRecord.self)
        for name in names where !groups.contains(where: { $0.record.name == name }) {
            throw EC2Error("InvalidGroup.NotFound", "The security group '\(name)' does not exist")
        }
        for id in ids where !groups.contains(where: { $0.id == id }) {
            throw EC2Error.notFound("InvalidGroup.NotFound", id, "security group")
        }
        if !names.isEmpty || !ids.isEmpty {
            groups = groups.filter { names.contains($0.record.name ?? "") || ids.contains($0.id) }
        }
        let matching = try filtered(groups, id: \.id, [
            "group-name": { group in [group.record.name ?? ""] },
            "group-id": { group in [group.id] },
            "description": { group in [group.body.description] },
            "owner-id": { group in [group.record.account] },
            "ip-permission.protocol": { group in group.body.ingress.map(\.ipProtocol) },
            "ip-permission.cidr": { group in group.body.ingress.compactMap(\.cidr) },
            "ip-permission.from-port": { group in group.body.ingress.compactMap { $0.fromPort.map(String.init) } },
            "ip-permission.to-port": { group in group.body.ingress.compactMap { $0.toPort.map(String.init) } },
            "ip-permission.group-id": { group in group.body.ingress.compactMap(\.group) },
        ])
        let (shown, next) = page.slice(matching) { Page.key($0.record.createdAt, $0.id) }
        return [.items("securityGroupInfo", try shown.map { group in
            [.text("ownerId", group.record.account), .text("groupId", group.id),
             .text("groupName", group.record.name ?? ""), .text("groupDescription", group.body.description),
             .items("ipPermissions", permissions(group.body.ingress)),
             .items("ipPermissionsEgress", permissions(group.body.egress)), try tagSet(group.id),
             .text("securityGroupArn", "arn:aws:ec2:\(site.region):\(group.record.account):security-group/\(group.id)")]
        })] + page.token(next)
    }

    /// Rules grouped into EC2's permissions (one per protocol and port range).
    func permissions(_ rules: [SecurityGroupRecord.Rule]) -> [[EC2XML.Node]] {
        var order: [String] = []
        var grouped: [String: [SecurityGroupRecord.Rule]] = [:]
        for rule in rules {
            let key = "\(rule.ipProtocol)/\(rule.fromPort ?? -2)/\(rule.toPort ?? -2)"
            if grouped[key] == nil { order.append(key) }
            grouped[key, default: []].append(rule)
        }
        return order.map { key in
            let rules = grouped[key]!
            var item: [EC2XML.Node] = [.text("ipProtocol", rules[0].ipProtocol)]
            if let from = rules[0].fromPort { item.append(.text("fromPort", "\(from)")) }
            if let to = rules[0].toPort { item.append(.text("toPort", "\(to)")) }
            item.append(.items("groups", rules.compactMap { $0.group.map { [.text("groupId", $0),
                                                                            .text("userId", account)] } }))
            item.append(.items("ipRanges", rules.compactMap { $0.cidr.map { [.text("cidrIp", $0)] } }))
            return item
        }
    }

    /// `IpPermissions.N.*` (what awscli sends for `--ip-permissions`, and for `--protocol/--port/--cidr` too), or the
    /// older top-level IpProtocol, FromPort, ToPort, CidrIp, SourceSecurityGroupName.
    func requestedRules() throws -> [SecurityGroupRecord.Rule] {
        var rules: [SecurityGroupRecord.Rule] = []
        var specs: [(prefix: String, field: String)] = form.indices(of: "IpPermissions").map { ("IpPermissions.\($0).", "IpPermissions.\($0)") }
        if specs.isEmpty, form["IpProtocol"] != nil { specs = [("", "")] }
        guard !specs.isEmpty else { throw EC2Error.missingParameter("IpPermissions") }
        for (prefix, field) in specs {
            let name = { (part: String) in field.isEmpty ? part : "\(field).\(part)" }
            let rawProtocol = try form.required(prefix + "IpProtocol").lowercased()
            let known = ["tcp": "tcp", "udp": "udp", "icmp": "icmp", "-1": "-1", "all": "-1", "6": "tcp", "17": "udp",
                         "1": "icmp"]
            guard let ipProtocol = known[rawProtocol] else {
                throw EC2Error.invalidParameterValue(name("IpProtocol"), "'\(rawProtocol)' is not tcp, udp, icmp or -1")
            }
            var from: Int?, to: Int?
            if ipProtocol != "-1" {
                from = try form.integer(prefix + "FromPort")
                to = try form.integer(prefix + "ToPort")
                let range = ipProtocol == "icmp" ? -1...255 : 0...65535
                guard range.contains(from!), range.contains(to!), ipProtocol == "icmp" || from! <= to! else {
                    throw EC2Error.invalidParameterValue(name("FromPort"), "ports must be within \(range) and "
                        + "FromPort ≤ ToPort")
                }
            }
            var cidrs = form.indices(of: prefix + "IpRanges").compactMap { form["\(prefix)IpRanges.\($0).CidrIp"] }
            if field.isEmpty, let cidr = form["CidrIp"] { cidrs.append(cidr) }
            for cidr in cidrs where !Self.isCIDR(cidr) {
                throw EC2Error("InvalidParameterValue", "Invalid IPv4 CIDR: '\(cidr)'")
            }
            var groups: [String] = []
            for index in form.indices(of: prefix + "Groups") {
                if let id = form["\(prefix)Groups.\(index).GroupId"] {
                    groups.append(try owned(id, SecurityGroupRecord.self,
                                            notFound: .notFound("InvalidGroup.NotFound", id, "security group")).id)
                } else if let groupName = form["\(prefix)Groups.\(index).GroupName"] {
                    guard let group = try named(groupName, SecurityGroupRecord.self) else {
                        throw EC2Error("InvalidGroup.NotFound", "The security group '\(groupName)' does not exist")
                    }
                    groups.append(group.id)
                }
            }
            if field.isEmpty, let source = form["SourceSecurityGroupName"] {
                guard let group = try named(source, SecurityGroupRecord.self) else {
                    throw EC2Error("InvalidGroup.NotFound", "The security group '\(source)' does not exist")
                }
                groups.append(group.id)
            }
            guard !cidrs.isEmpty || !groups.isEmpty else {
                throw EC2Error.missingParameter(name("IpRanges"))
            }
            rules += cidrs.map { .init(ipProtocol: ipProtocol, fromPort: from, toPort: to, cidr: $0) }
            rules += groups.map { .init(ipProtocol: ipProtocol, fromPort: from, toPort: to, group: $0) }
        }
        return rules
    }

    /// AuthorizeSecurityGroupIngress or -Egress: the rules are added (a rule already there is refused), and every
    /// instance they bear on is told at once.
    func authorize(_ direction: WritableKeyPath<SecurityGroupRecord, [SecurityGroupRecord.Rule]>) throws
        -> [EC2XML.Node] {
        var group = try targetGroup()
        for rule in try requestedRules() {
            guard !group.body[keyPath: direction].contains(rule) else {
                throw EC2Error("InvalidPermission.Duplicate", "the specified rule \"peer: \(rule.cidr ?? rule.group ?? ""), "
                    + "\(rule.ipProtocol)\" already exists")
            }
            group.body[keyPath: direction].append(rule)
        }
        try update(group)
        try setFirewalls(ofMembersOf: group.id)
        return [.text("return", "true")]
    }

    /// RevokeSecurityGroupIngress or -Egress.
    func revoke(_ direction: WritableKeyPath<SecurityGroupRecord, [SecurityGroupRecord.Rule]>) throws
        -> [EC2XML.Node] {
        var group = try targetGroup()
        for rule in try requestedRules() {
            guard let index = group.body[keyPath: direction].firstIndex(of: rule) else {
                throw EC2Error("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
            }
            group.body[keyPath: direction].remove(at: index)
        }
        try update(group)
        try setFirewalls(ofMembersOf: group.id)
        return [.text("return", "true")]
    }

    static func isCIDR(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let bits = Int(parts[1]), (0...32).contains(bits) else { return false }
        return isIPv4(String(parts[0]))
    }

    static func isIPv4(_ text: String) -> Bool {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { octet in
            !octet.isEmpty && octet.count <= 3 && octet.allSatisfy(\.isNumber) && Int(octet)! <= 255
        }
    }

    static let securityGroupActions: [String: Action] = [
        "CreateSecurityGroup": Action(readOnly: false) { try $0.createSecurityGroup() },
        "DeleteSecurityGroup": Action(readOnly: false) { try $0.deleteSecurityGroup() },
        "DescribeSecurityGroups": Action(readOnly: false) { try $0.describeSecurityGroups() },
        "AuthorizeSecurityGroupIngress": Action(readOnly: false) { try $0.authorize(\.ingress) },
        "RevokeSecurityGroupIngress": Action(readOnly: false) { try $0.revoke(\.ingress) },
        "AuthorizeSecurityGroupEgress": Action(readOnly: false) { try $0.authorize(\.egress) },
        "RevokeSecurityGroupEgress": Action(readOnly: false) { try $0.revoke(\.egress) },
    ]
}

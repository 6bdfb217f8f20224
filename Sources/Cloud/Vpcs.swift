import EC2
import Foundation
import VMI

/// A VPC: an account's own private address space. Its subnets are the site's networks, each an isolated L2 segment
/// across the hosts its instances run on; VPCs of different accounts may use the same addresses.
struct VpcRecord: StoredResource {
    static let kind = "vpc"
    var cidr: String
    var isDefault: Bool
}

extension CloudCall {
    /// EC2's default VPC block; its default subnets are its /20s, one per zone.
    static let defaultVpcBlock = IPv4Network("172.31.0.0/16")!
    /// The sizes EC2 allows for a VPC's block and a subnet's.
    static let blockLengths = 16...28

    /// The account's default VPC, made on first need, with a default subnet for every zone the site has now (a
    /// zone that appears later gets one the next time it is needed).
    @discardableResult
    func defaultVpc() throws -> Owned<VpcRecord> {
        let vpc: Owned<VpcRecord>
        if let found = try named("default", VpcRecord.self) {
            vpc = found
        } else {
            let id = ResourceID.make("vpc")
            try insert(VpcRecord(cidr: Self.defaultVpcBlock.description, isDefault: true), id: id, name: "default",
                       duplicate: EC2Error("InternalError", "default VPC", status: 500))
            vpc = try named("default", VpcRecord.self)!
        }
        let subnets = try all(SubnetRecord.self).filter { $0.body.vpc == vpc.id }
        var taken = subnets.compactMap { IPv4Network($0.body.cidr) }
        for zone in try zones() where !subnets.contains(where: { $0.body.defaultForZone && $0.body.zone == zone }) {
            var index = 0
            while let block = Self.defaultVpcBlock.subnet(index, length: 20), taken.contains(where: block.overlaps) {
                index += 1
            }
            guard let block = Self.defaultVpcBlock.subnet(index, length: 20) else { break }
            taken.append(block)
            try insert(SubnetRecord(vpc: vpc.id, cidr: block.description, zone: zone,
                                    mapPublicIpOnLaunch: !site.addressPool.isEmpty, defaultForZone: true),
                       id: ResourceID.make("subnet"), name: "default:\(zone)",
                       duplicate: EC2Error("InternalError", "default subnet", status: 500))
        }
        return vpc
    }

    /// A CIDR parameter: a valid block of an allowed size.
    func block(_ name: String, range code: String) throws -> IPv4Network {
        let text = try form.required(name)
        guard let block = IPv4Network(text) else {
            throw EC2Error.invalidParameterValue(name, "'\(text)' is not a valid CIDR block (a.b.c.d/n, no host bits)")
        }
        guard Self.blockLengths.contains(block.prefixLength) else {
            throw EC2Error(code, "The CIDR '\(text)' is invalid: the prefix length must be between "
                + "/\(Self.blockLengths.lowerBound) and /\(Self.blockLengths.upperBound)")
        }
        return block
    }

    func createVpc() throws -> [EC2XML.Node] {
        let block = try block("CidrBlock", range: "InvalidVpc.Range")
        if let tenancy = form["InstanceTenancy"], tenancy != "default" {
            throw EC2Error.invalidParameterValue("InstanceTenancy", "only 'default' tenancy is offered")
        }
        try defaultVpc()
        let id = ResourceID.make("vpc")
        try insert(VpcRecord(cidr: block.description, isDefault: false), id: id,
                   duplicate: EC2Error("InternalError", "VPC id collision", status: 500))
        try applyTagSpecifications("vpc", to: [id])
        return [.element("vpc", try vpcItem(try targetVpc(id)))]
    }

    func targetVpc(_ id: String) throws -> Owned<VpcRecord> {
        try owned(id, VpcRecord.self, notFound: .notFound("InvalidVpcID.NotFound", id, "vpc ID"))
    }

    func deleteVpc() throws -> [EC2XML.Node] {
        let vpc = try targetVpc(try requiredId("VpcId", prefix: "vpc", code: "InvalidVpcID"))
        if let subnet = try all(SubnetRecord.self).first(where: { $0.body.vpc == vpc.id }) {
            throw EC2Error("DependencyViolation", "The vpc '\(vpc.id)' has dependencies and cannot be deleted "
                + "(\(subnet.id))")
        }
        try tx.deleteResource(vpc.id)
        return [.text("return", "true")]
    }

    func describeVpcs() throws -> [EC2XML.Node] {
        try defaultVpc()
        let ids = try self.ids("VpcId", prefix: "vpc", notFound: "InvalidVpcID")
        let page = try Page(form, idsGiven: !ids.isEmpty, idName: "VpcId")
        let vpcs = try selected(ids, VpcRecord.self) { .notFound("InvalidVpcID.NotFound", $0, "vpc ID") }
        let matching = try filtered(vpcs, id: \.id, [
            "vpc-id": { [$0.id] },
            "cidr": { [$0.body.cidr] },
            "cidr-block-association.cidr-block": { [$0.body.cidr] },
            "is-default": { [String($0.body.isDefault)] },
            "isDefault": { [String($0.body.isDefault)] },
            "state": { _ in ["available"] },
            "owner-id": { [$0.record.account] },
            "instance-tenancy": { _ in ["default"] },
            "dhcp-options-id": { _ in ["default"] },
        ])
        let (shown, next) = page.slice(matching) { Page.key($0.record.createdAt, $0.id) }
        return [.items("vpcSet", try shown.map(vpcItem))] + page.token(next)
    }

    func vpcItem(_ vpc: Owned<VpcRecord>) throws -> [EC2XML.Node] {
        [.text("vpcId", vpc.id), .text("ownerId", vpc.record.account), .text("state", "available"),
         .text("cidrBlock", vpc.body.cidr),
         .items("cidrBlockAssociationSet", [[
             .text("associationId", "vpc-cidr-assoc-" + vpc.id.dropFirst(4)), .text("cidrBlock", vpc.body.cidr),
             .element("cidrBlockState", [.text("state", "associated")]),
         ]]),
         .items("ipv6CidrBlockAssociationSet", []),
         .text("dhcpOptionsId", "default"), .text("instanceTenancy", "default"),
         .text("isDefault", String(vpc.body.isDefault)), try tagSet(vpc.id)]
    }

    static let vpcActions: [String: Action] = [
        // Describe* may make the default VPC, so they take the writer.
        "CreateVpc": Action(readOnly: false) { try $0.createVpc() },
        "DeleteVpc": Action(readOnly: false) { try $0.deleteVpc() },
        "DescribeVpcs": Action(readOnly: false) { try $0.describeVpcs() },
        "CreateSubnet": Action(readOnly: false) { try $0.createSubnet() },
        "DeleteSubnet": Action(readOnly: false) { try $0.deleteSubnet() },
        "DescribeSubnets": Action(readOnly: false) { try $0.describeSubnets() },
        "ModifySubnetAttribute": Action(readOnly: false) { try $0.modifySubnetAttribute() },
        "DescribeNetworkInterfaces": Action(readOnly: false) { try $0.describeNetworkInterfaces() },
    ]
}

import EC2
import Foundation
import Inventory
import VMI

/// A subnet of a VPC in one zone: the site network its instances join (scope `vpc:<vpc id>`, named by the subnet's
/// id), made on the hosts when its first instance is placed.
struct SubnetRecord: StoredResource {
    static let kind = "subnet"
    var vpc: String
    var cidr: String
    var zone: String
    var mapPublicIpOnLaunch: Bool
    var defaultForZone: Bool
}

extension Owned<SubnetRecord> {
    /// The site network behind the subnet.
    var network: NetworkRequest {
        NetworkRequest(scope: "vpc:\(body.vpc)", name: id, subnet: IPv4Network(body.cidr))
    }
}

extension CloudCall {
    /// As on EC2, a subnet's first four addresses (network, router, DNS, reserved) and its last are not handed out.
    static let reservedLeading: UInt32 = 4

    func targetSubnet(_ id: String) throws -> Owned<SubnetRecord> {
        try owned(id, SubnetRecord.self, notFound: .notFound("InvalidSubnetID.NotFound", id, "subnet ID"))
    }

    func createSubnet() throws -> [EC2XML.Node] {
        let vpcId = try requiredId("VpcId", prefix: "vpc", code: "InvalidVpcID")
        let block = try block("CidrBlock", range: "InvalidSubnet.Range")
        try defaultVpc()
        let vpc = try targetVpc(vpcId)
        guard let vpcBlock = IPv4Network(vpc.body.cidr), vpcBlock.prefixLength <= block.prefixLength,
              vpcBlock.contains(block.address)
        else {
            throw EC2Error("InvalidSubnet.Range", "The CIDR '\(block)' is invalid: it is not inside the VPC's "
                + "\(vpc.body.cidr)")
        }
        let siblings = try all(SubnetRecord.self).filter { $0.body.vpc == vpc.id }
        if let clash = siblings.first(where: { IPv4Network($0.body.cidr).map(block.overlaps) ?? false }) {
            throw EC2Error("InvalidSubnet.Conflict", "The CIDR '\(block)' conflicts with another subnet "
                + "(\(clash.id), \(clash.body.cidr))")
        }
        let zones = try self.zones()
        let zone = form["AvailabilityZone"].flatMap { $0.isEmpty ? nil : $0 } ?? zones[0]
        guard zones.contains(zone) else {
            throw EC2Error.invalidParameterValue("AvailabilityZone", "'\(zone)' is not a zone of this site; subnets "
                + "can be made in: " + zones.joined(separator: ", "))
        }
        let id = ResourceID.make("subnet")
        try insert(SubnetRecord(vpc: vpc.id, cidr: block.description, zone: zone, mapPublicIpOnLaunch: false,
                                defaultForZone: false),
                   id: id, duplicate: EC2Error("InternalError", "subnet id collision", status: 500))
        try applyTagSpecifications("subnet", to: [id])
        return [.element("subnet", try subnetItem(try targetSubnet(id), inUse: [:]))]
    }

    func deleteSubnet() throws -> [EC2XML.Node] {
        let subnet = try targetSubnet(try requiredId("SubnetId", prefix: "subnet", code: "InvalidSubnetID"))
        if let instance = try instances().first(where: {
            $0.record.subnetId == subnet.id && $0.vee.desired != .destroyed
        }) {
            throw EC2Error("DependencyViolation", "The subnet '\(subnet.id)' has dependencies and cannot be deleted "
                + "(\(instance.id))")
        }
        try tx.deleteResource(subnet.id)
        return [.text("return", "true")]
    }

    func describeSubnets() throws -> [EC2XML.Node] {
        try defaultVpc()
        let ids = try self.ids("SubnetId", prefix: "subnet", notFound: "InvalidSubnetID")
        let page = try Page(form, idsGiven: !ids.isEmpty, idName: "SubnetId")
        let subnets = try selected(ids, SubnetRecord.self) { .notFound("InvalidSubnetID.NotFound", $0, "subnet ID") }
        let matching = try filtered(subnets, id: \.id, [
            "subnet-id": { [$0.id] },
            "vpc-id": { [$0.body.vpc] },
            "cidr-block": { [$0.body.cidr] },
            "cidr": { [$0.body.cidr] },
            "cidrBlock": { [$0.body.cidr] },
            "availability-zone": { [$0.body.zone] },
            "availabilityZone": { [$0.body.zone] },
            "default-for-az": { [String($0.body.defaultForZone)] },
            "defaultForAz": { [String($0.body.defaultForZone)] },
            "map-public-ip-on-launch": { [String($0.body.mapPublicIpOnLaunch)] },
            "state": { _ in ["available"] },
            "owner-id": { [$0.record.account] },
        ])
        let (shown, next) = page.slice(matching) { Page.key($0.record.createdAt, $0.id) }
        let inUse = try addressesInUse(shown)
        return [.items("subnetSet", try shown.map { try subnetItem($0, inUse: inUse) })] + page.token(next)
    }

    /// How many addresses each subnet's network has handed out.
    func addressesInUse(_ subnets: [Owned<SubnetRecord>]) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for subnet in subnets {
            counts[subnet.id] = try tx.addressesInUse(scope: subnet.network.scope, network: subnet.id).count
        }
        return counts
    }

    func subnetItem(_ subnet: Owned<SubnetRecord>, inUse: [String: Int]) throws -> [EC2XML.Node] {
        let size = IPv4Network(subnet.body.cidr).map { Int($0.size) } ?? 0
        let available = max(0, size - Int(Self.reservedLeading) - 1 - (inUse[subnet.id] ?? 0))
        return [
            .text("subnetId", subnet.id),
            .text("subnetArn", "arn:aws:ec2:\(site.region):\(subnet.record.account):subnet/\(subnet.id)"),
            .text("state", "available"), .text("vpcId", subnet.body.vpc), .text("ownerId", subnet.record.account),
            .text("cidrBlock", subnet.body.cidr), .text("availableIpAddressCount", "\(available)"),
            .text("availabilityZone", subnet.body.zone), .text("availabilityZoneId", subnet.body.zone),
            .text("defaultForAz", String(subnet.body.defaultForZone)),
            .text("mapPublicIpOnLaunch", String(subnet.body.mapPublicIpOnLaunch)),
            .text("assignIpv6AddressOnCreation", "false"), .items("ipv6CidrBlockAssociationSet", []),
            try tagSet(subnet.id),
        ]
    }

    func modifySubnetAttribute() throws -> [EC2XML.Node] {
        var subnet = try targetSubnet(try requiredId("SubnetId", prefix: "subnet", code: "InvalidSubnetID"))
        guard let value = form["MapPublicIpOnLaunch.Value"] else {
            throw EC2Error.missingParameter("MapPublicIpOnLaunch")
        }
        guard ["true", "false"].contains(value.lowercased()) else {
            throw EC2Error.invalidParameterValue("MapPublicIpOnLaunch.Value", "must be true or false, got '\(value)'")
        }
        subnet.body.mapPublicIpOnLaunch = value.lowercased() == "true"
        try update(subnet)
        return [.text("return", "true")]
    }

    /// The subnet an instance is launched into and its address there, if one was asked for: SubnetId, or the
    /// default subnet of the zone asked for. Nil subnet: any default subnet with room (the caller tries them).
    func launchSubnets(zone: String?, count: Int) throws -> (subnets: [Owned<SubnetRecord>], address: IPv4Address?) {
        var subnets: [Owned<SubnetRecord>]
        if let id = try optionalId("SubnetId", prefix: "subnet", code: "InvalidSubnetID") {
            let subnet = try targetSubnet(id)
            if let zone, zone != subnet.body.zone {
                throw EC2Error("InvalidParameterCombination", "The Availability Zone '\(zone)' is not the subnet's "
                    + "(\(subnet.id) is in \(subnet.body.zone))")
            }
            subnets = [subnet]
        } else {
            // Only a launch into a default subnet needs the default VPC (made on first need).
            try defaultVpc()
            subnets = try all(SubnetRecord.self).filter {
                $0.body.defaultForZone && (zone == nil || $0.body.zone == zone)
            }.sorted { $0.body.zone < $1.body.zone }
            guard !subnets.isEmpty else {
                throw EC2Error("MissingInput", "No default subnet for the zone '\(zone ?? "")': give a SubnetId")
            }
        }
        guard let text = form["PrivateIpAddress"] else { return (subnets, nil) }
        guard let address = IPv4Address(text) else {
            throw EC2Error.invalidParameterValue("PrivateIpAddress", "'\(text)' is not an IPv4 address")
        }
        guard count == 1 else {
            throw EC2Error("InvalidParameterCombination", "PrivateIpAddress can only be given for one instance "
                + "(MaxCount is \(count))")
        }
        guard let subnet = subnets.first(where: { IPv4Network($0.body.cidr)?.contains(address) == true }),
              let block = IPv4Network(subnet.body.cidr) else {
            throw EC2Error.invalidParameterValue("PrivateIpAddress", "Address \(text) does not fall within the "
                + "subnet's address range (\(subnets.map(\.body.cidr).joined(separator: ", ")))")
        }
        let offset = address.value - block.address.value
        guard offset >= Self.reservedLeading, address != block.broadcast else {
            throw EC2Error.invalidParameterValue("PrivateIpAddress", "Address \(text) is reserved in \(block): the "
                + "first four addresses and the last are not handed out")
        }
        if try tx.addressesInUse(scope: subnet.network.scope, network: subnet.id).contains(address.description) {
            throw EC2Error("InvalidIPAddress.InUse", "Address \(text) is in use.")
        }
        return ([subnet], address)
    }
}

import EC2
import Foundation

/// An elastic IP: allocated from the site's pool and associated with an instance. Recorded; the NAT on hosts comes
/// with the networks work.
struct AddressRecord: StoredResource {
    static let kind = "address"
    var publicIp: String
    var domain: String
    var instanceId: String?
    var associationId: String?
}

extension CloudCall {
    func allocateAddress() throws -> [EC2XML.Node] {
        let taken = Set(try tx.resources(kind: AddressRecord.kind, account: nil).map {
            try decode($0, as: AddressRecord.self).body.publicIp
        })
        guard let ip = site.addressPool.first(where: { !taken.contains($0) }) else {
            throw EC2Error("AddressLimitExceeded", "The site has no public address left to allocate")
        }
        let domain = form["Domain"] ?? "vpc"
        guard ["vpc", "standard"].contains(domain) else {
            throw EC2Error.invalidParameterValue("Domain", "must be vpc or standard")
        }
        let id = ResourceID.make("eipalloc")
        try insert(AddressRecord(publicIp: ip, domain: domain), id: id,
                   duplicate: EC2Error("InternalError", "allocation id collision", status: 500))
        try applyTagSpecifications("elastic-ip", to: [id])
        return [.text("publicIp", ip), .text("domain", domain), .text("allocationId", id)]
    }

    /// AllocationId, or PublicIp.
    func targetAddress() throws -> Owned<AddressRecord> {
        if let id = try optionalId("AllocationId", prefix: "eipalloc", code: "InvalidAllocationID") {
            return try owned(id, AddressRecord.self, notFound: .notFound("InvalidAllocationID.NotFound", id,
                                                                         "allocation ID"))
        }
        let ip = try form["PublicIp"] ?? { throw EC2Error.missingParameter("AllocationId") }()
        guard let address = try all(AddressRecord.self).first(where: { $0.body.publicIp == ip }) else {
            throw EC2Error("InvalidAddress.NotFound", "Address '\(ip)' not found.")
        }
        return address
    }

    func releaseAddress() throws -> [EC2XML.Node] {
        let address = try targetAddress()
        guard address.body.instanceId == nil else {
            throw EC2Error("InvalidIPAddress.InUse", "Address \(address.body.publicIp) is associated with "
                + "\(address.body.instanceId!); disassociate it first")
        }
        try tx.deleteResource(address.id)
        return [.text("return", "true")]
    }

    func associateAddress() throws -> [EC2XML.Node] {
        let instanceId = try requiredId("InstanceId", prefix: "i", code: "InvalidInstanceID")
        var address = try targetAddress()
        guard let instance = try instances([instanceId]).first, instance.state != .terminated,
              instance.state != .shuttingDown
        else { throw EC2Error.notFound("InvalidInstanceID.NotFound", instanceId, "instance ID") }
        if let current = address.body.instanceId, current != instanceId, !form.bool("AllowReassociation") {
            throw EC2Error("Resource.AlreadyAssociated", "\(address.body.publicIp) is already associated with "
                + "\(current)")
        }
        // An instance holds one address: associating another moves it.
        for var other in try all(AddressRecord.self) where other.id != address.id && other.body.instanceId == instanceId {
            other.body.instanceId = nil
            other.body.associationId = nil
            try update(other)
        }
        address.body.instanceId = instanceId
        address.body.associationId = ResourceID.make("eipassoc")
        try update(address)
        return [.text("return", "true"), .text("associationId", address.body.associationId!)]
    }

    func disassociateAddress() throws -> [EC2XML.Node] {
        var address: Owned<AddressRecord>
        if let association = try optionalId("AssociationId", prefix: "eipassoc", code: "InvalidAssociationID") {
            guard let found = try all(AddressRecord.self).first(where: { $0.body.associationId == association }) else {
                throw EC2Error("InvalidAssociationID.NotFound", "The association ID '\(association)' does not exist")
            }
            address = found
        } else {
            address = try targetAddress()
        }
        address.body.instanceId = nil
        address.body.associationId = nil
        try update(address)
        return [.text("return", "true")]
    }

    func describeAddresses() throws -> [EC2XML.Node] {
        var addresses = try all(AddressRecord.self)
        let ips = form.list("PublicIp")
        let ids = try self.ids("AllocationId", prefix: "eipalloc", notFound: "InvalidAllocationID")
        for ip in ips where !addresses.contains(where: { $0.body.publicIp == ip }) {
            throw EC2Error("InvalidAddress.NotFound", "Address '\(ip)' not found.")
        }
        for id in ids where !addresses.contains(where: { $0.id == id }) {
            throw EC2Error.notFound("InvalidAllocationID.NotFound", id, "allocation ID")
        }
        if !ips.isEmpty || !ids.isEmpty {
            addresses = addresses.filter { ips.contains($0.body.publicIp) || ids.contains($0.id) }
        }
        let shown = try filtered(addresses, id: \.id, [
            "public-ip": { address in [address.body.publicIp] },
            "allocation-id": { address in [address.id] },
            "association-id": { address in address.body.associationId.map { [$0] } ?? [] },
            "instance-id": { address in address.body.instanceId.map { [$0] } ?? [] },
            "domain": { address in [address.body.domain] },
        ])
        return [.items("addressesSet", try shown.map { address in
            var item: [EC2XML.Node] = [.text("publicIp", address.body.publicIp), .text("allocationId", address.id),
                                       .text("domain", address.body.domain)]
            if let instance = address.body.instanceId { item.append(.text("instanceId", instance)) }
            if let association = address.body.associationId { item.append(.text("associationId", association)) }
            item.append(try tagSet(address.id))
            return item
        })]
    }

    static let addressActions: [String: Action] = [
        "AllocateAddress": Action(readOnly: false) { try $0.allocateAddress() },
        "ReleaseAddress": Action(readOnly: false) { try $0.releaseAddress() },
        "AssociateAddress": Action(readOnly: false) { try $0.associateAddress() },
        "DisassociateAddress": Action(readOnly: false) { try $0.disassociateAddress() },
        "DescribeAddresses": Action(readOnly: true) { try $0.describeAddresses() },
    ]
}

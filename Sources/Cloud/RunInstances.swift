import EC2
import Foundation
import Inventory
import VMI

extension CloudCall {
    /// Most instances one RunInstances may ask for.
    static let maxInstancesPerCall = 500

    /// Places MaxCount instances (or as many as fit, down to MinCount) as VEEs named after their instance ids and
    /// activates them. A ClientToken seen before answers with that call's reservation and launches nothing.
    func runInstances() throws -> [EC2XML.Node] {
        let imageId = try requiredId("ImageId", prefix: "ami", code: "InvalidAMIID")
        for id in form.list("SecurityGroupId") { try checkShape(id, prefix: "sg", code: "InvalidGroupId") }
        let minCount = try form.integer("MinCount")
        let maxCount = try form.integer("MaxCount")
        guard minCount >= 1 else { throw EC2Error.invalidParameterValue("MinCount", "must be at least 1") }
        guard maxCount >= minCount else {
            throw EC2Error.invalidParameterValue("MaxCount", "must be at least MinCount (\(minCount))")
        }
        guard maxCount <= Self.maxInstancesPerCall else {
            throw EC2Error("InstanceLimitExceeded", "Your request for \(maxCount) instances exceeds the limit of "
                + "\(Self.maxInstancesPerCall) per call")
        }
        let token = form["ClientToken"].flatMap { $0.isEmpty ? nil : $0 }
        var parameters = form.values
        parameters["ClientToken"] = nil
        parameters["DryRun"] = nil
        if let token, let earlier = try tx.resource(kind: ReservationRecord.kind, account: account, token: token) {
            let reservation: Owned<ReservationRecord> = try decode(earlier)
            guard reservation.body.parameters == parameters else {
                throw EC2Error("IdempotentParameterMismatch", "The ClientToken '\(token)' was used before with "
                    + "different parameters")
            }
            return try reservationBody(reservation.id, instances(reservation.body.instances))
        }

        guard let image = try visibleImage(imageId) else {
            throw EC2Error.notFound("InvalidAMIID.NotFound", imageId, "image id")
        }
        let typeName = form["InstanceType"] ?? site.defaultInstanceType
        guard let type = site.instanceType(typeName) else {
            throw EC2Error.invalidParameterValue("InstanceType", "'\(typeName)' is not one of this site's types ("
                + site.instanceTypes.map(\.name).joined(separator: ", ") + ")")
        }
        let keyName = form["KeyName"]
        var key: KeyPairRecord?
        if let keyName {
            guard let found = try named(keyName, KeyPairRecord.self) else {
                throw EC2Error("InvalidKeyPair.NotFound", "The key pair '\(keyName)' does not exist")
            }
            key = found.body
        }
        let groups = try launchGroups()
        let zone = form["Placement.AvailabilityZone"].flatMap { $0.isEmpty ? nil : $0 }
        if let zone, try !zones().contains(zone) {
            throw EC2Error.invalidParameterValue("Placement.AvailabilityZone", "'\(zone)' is not a zone of this site "
                + "(see DescribeAvailabilityZones)")
        }
        if let userData = form["UserData"] {
            guard let bytes = Data(base64Encoded: userData) else {
                throw EC2Error.invalidParameterValue("UserData", "must be base64")
            }
            guard bytes.count <= GuestContext.maxUserDataBytes else {
                throw EC2Error.invalidParameterValue("UserData", "must be at most \(GuestContext.maxUserDataBytes) "
                    + "bytes before encoding, got \(bytes.count)")
            }
        }
        // What the guest reads from its host's metadata service.
        let context = GuestContext(userData: form["UserData"], keyName: keyName, publicKeys: key.map { [$0.publicKey] },
                                   imageId: image.id, instanceType: type.name)
        let behavior = form["InstanceInitiatedShutdownBehavior"]
        if let behavior { try Self.checkShutdownBehavior(behavior) }

        let (subnets, address) = try launchSubnets(zone: zone, count: maxCount)

        let reservationId = ResourceID.make("r")
        let (vees, subnet) = try launch(into: subnets, minCount: minCount, maxCount: maxCount) { subnet in
            var network = subnet.network
            network.address = address
            let spec = VEESpec(name: ResourceID.make("i"), cpus: type.cpus, memoryMiB: type.memoryMiB,
                               diskGiB: type.diskGiB, image: image.location, networks: [subnet.id], context: context)
            return Admission(spec: spec, slaClass: "", networks: [network])
        }
        for (index, vee) in vees.enumerated() {
            let record = InstanceRecord(vee: vee.id, reservationId: reservationId, imageId: image.id, instanceType: type.name,
                                        keyName: keyName, groups: groups, zone: subnet.body.zone,
                                        launchTime: now, launchIndex: index, userData: form["UserData"],
                                        clientToken: token,
                                        disableApiTermination: form.bool("DisableApiTermination") ? true : nil,
                                        shutdownBehavior: behavior, subnetId: subnet.id, vpcId: subnet.body.vpc,
                                        networkInterfaceId: ResourceID.make("eni"))
            try insert(record, id: vee.spec.name,
                       duplicate: EC2Error("InternalError", "instance id collision", status: 500))
            _ = try operations.control(vee.id, .activate, tx, now, &effects)
        }
        let ids = vees.map(\.spec.name)
        try insert(ReservationRecord(instances: ids, parameters: parameters), id: reservationId,
                   token: token, duplicate: EC2Error("IdempotentParameterMismatch", "ClientToken reused"))
        try applyTagSpecifications("instance", to: ids)
        let launched = try instances(ids)
        try setFirewalls(launched)
        return try reservationBody(reservationId, launched)
    }

    /// Launches as many instances as fit, from `maxCount` down to `minCount`, into the first of `subnets` (each in
    /// its own zone) with room for them; when none has, the last refusal is the answer.
    func launch(into subnets: [Owned<SubnetRecord>], minCount: Int, maxCount: Int,
                admission: (Owned<SubnetRecord>) -> Admission) throws -> ([VEEView], Owned<SubnetRecord>) {
        var refusal: Error = EC2Error("InsufficientInstanceCapacity", "no subnet to launch into")
        for subnet in subnets {
            var count = maxCount
            while true {
                let admissions = (0..<count).map { _ in admission(subnet) }
                do {
                    let vees = try tx.isolated {
                        try operations.launch(admissions, zone: subnet.body.zone, tx, now, &effects)
                    }
                    return (vees, subnet)
                } catch let error as VMIError where error.code == .insufficientCapacity {
                    refusal = error
                    guard count > minCount else { break }
                    count = minCount
                }
            }
        }
        throw refusal
    }

    /// SecurityGroupId.N and SecurityGroup.N (names), or the account's default group.
    func launchGroups() throws -> [String] {
        var ids: [String] = []
        for id in form.list("SecurityGroupId") {
            ids.append(try owned(id, SecurityGroupRecord.self,
                                 notFound: .notFound("InvalidGroup.NotFound", id, "security group")).id)
        }
        for name in form.list("SecurityGroup") {
            guard let group = try named(name, SecurityGroupRecord.self) else {
                throw EC2Error("InvalidGroup.NotFound", "The security group '\(name)' does not exist")
            }
            ids.append(group.id)
        }
        return ids.isEmpty ? [try defaultGroup().id] : ids
    }
}

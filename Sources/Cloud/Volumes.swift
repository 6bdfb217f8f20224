import EC2
import Foundation
import VMI

/// A block volume: recorded with its zone and attachment; hotplug on hosts comes with the volumes work.
struct VolumeRecord: StoredResource {
    static let kind = "volume"
    var size: Int
    var zone: String
    var volumeType: String
    var state: String
    var attachment: Attachment?

    struct Attachment: Codable {
        var instanceId: String
        var device: String
        var attachTime: Date
    }
}

extension CloudCall {
    static let maxVolumeGiB = 16_384

    func createVolume() throws -> [EC2XML.Node] {
        let zone = try form.required("AvailabilityZone")
        guard try zones().contains(zone) else {
            throw EC2Error.invalidParameterValue("AvailabilityZone", "'\(zone)' is not a zone of this site")
        }
        if let snapshot = try optionalId("SnapshotId", prefix: "snap", code: "InvalidSnapshotID") {
            throw EC2Error("InvalidSnapshot.NotFound", "The snapshot '\(snapshot)' does not exist")
        }
        let size = try form.integer("Size")
        guard (1...Self.maxVolumeGiB).contains(size) else {
            throw EC2Error.invalidParameterValue("Size", "must be between 1 and \(Self.maxVolumeGiB) GiB")
        }
        let type = form["VolumeType"] ?? "gp2"
        guard ["standard", "gp2", "gp3", "io1", "io2", "sc1", "st1"].contains(type) else {
            throw EC2Error.invalidParameterValue("VolumeType", "'\(type)' is not a volume type")
        }
        let id = ResourceID.make("vol")
        let record = VolumeRecord(size: size, zone: zone, volumeType: type, state: "available")
        try insert(record, id: id, duplicate: EC2Error("InternalError", "volume id collision", status: 500))
        try applyTagSpecifications("volume", to: [id])
        return volumeItem(id, record, createdAt: now) + [try tagSet(id)]
    }

    func targetVolume() throws -> Owned<VolumeRecord> {
        let id = try requiredId("VolumeId", prefix: "vol", code: "InvalidVolumeID")
        return try owned(id, VolumeRecord.self, notFound: .notFound("InvalidVolume.NotFound", id, "volume"))
    }

    func deleteVolume() throws -> [EC2XML.Node] {
        let volume = try targetVolume()
        guard volume.body.attachment == nil else {
            throw EC2Error("VolumeInUse", "Volume \(volume.id) is attached to \(volume.body.attachment!.instanceId)")
        }
        try tx.deleteResource(volume.id)
        return [.text("return", "true")]
    }

    func attachVolume() throws -> [EC2XML.Node] {
        _ = try requiredId("VolumeId", prefix: "vol", code: "InvalidVolumeID")
        let instanceId = try requiredId("InstanceId", prefix: "i", code: "InvalidInstanceID")
        let device = try form.required("Device")
        var volume = try targetVolume()
        guard let instance = try instances([instanceId]).first, instance.state != .terminated else {
            throw EC2Error.notFound("InvalidInstanceID.NotFound", instanceId, "instance ID")
        }
        guard volume.body.attachment == nil else {
            throw EC2Error("VolumeInUse", "Volume \(volume.id) is already attached to "
                + volume.body.attachment!.instanceId)
        }
        guard instance.record.zone == volume.body.zone else {
            throw EC2Error("InvalidVolume.ZoneMismatch", "The volume \(volume.id) is in \(volume.body.zone), the "
                + "instance in \(instance.record.zone)")
        }
        for other in try all(VolumeRecord.self)
        where other.body.attachment?.instanceId == instanceId && other.body.attachment?.device == device {
            throw EC2Error.invalidParameterValue("Device", "\(device) is already used by \(other.id)")
        }
        volume.body.attachment = .init(instanceId: instanceId, device: device, attachTime: now)
        volume.body.state = "in-use"
        try update(volume)
        return attachmentItem(volume.id, volume.body.attachment!, status: "attached")
    }

    func detachVolume() throws -> [EC2XML.Node] {
        _ = try optionalId("InstanceId", prefix: "i", code: "InvalidInstanceID")
        var volume = try targetVolume()
        guard let attachment = volume.body.attachment,
              form["InstanceId"].map({ $0 == attachment.instanceId }) ?? true
        else { throw EC2Error("IncorrectState", "Volume \(volume.id) is not attached to that instance") }
        volume.body.attachment = nil
        volume.body.state = "available"
        try update(volume)
        return attachmentItem(volume.id, attachment, status: "detached")
    }

    func describeVolumes() throws -> [EC2XML.Node] {
        let ids = try self.ids("VolumeId", prefix: "vol", notFound: "InvalidVolumeID")
        let page = try Page(form, idsGiven: !ids.isEmpty, idName: "VolumeId")
        let matching = try filtered(try selected(ids, VolumeRecord.self) {
            .notFound("InvalidVolume.NotFound", $0, "volume")
        }, id: \.id, [
            "volume-id": { volume in [volume.id] },
            "status": { volume in [volume.body.state] },
            "availability-zone": { volume in [volume.body.zone] },
            "size": { volume in ["\(volume.body.size)"] },
            "volume-type": { volume in [volume.body.volumeType] },
            "attachment.instance-id": { volume in volume.body.attachment.map { [$0.instanceId] } ?? [] },
            "attachment.device": { volume in volume.body.attachment.map { [$0.device] } ?? [] },
            "attachment.status": { volume in volume.body.attachment == nil ? [] : ["attached"] },
        ])
        let (volumes, next) = page.slice(matching) { Page.key($0.record.createdAt, $0.id) }
        return [.items("volumeSet", try volumes.map { volume in
            volumeItem(volume.id, volume.body, createdAt: volume.record.createdAt) + [
                .items("attachmentSet", volume.body.attachment.map { [attachmentItem(volume.id, $0, status: "attached")] }
                    ?? []),
                try tagSet(volume.id),
            ]
        })] + page.token(next)
    }

    func volumeItem(_ id: String, _ volume: VolumeRecord, createdAt: Date) -> [EC2XML.Node] {
        [.text("volumeId", id), .text("size", "\(volume.size)"), .text("snapshotId", ""),
         .text("availabilityZone", volume.zone), .text("status", volume.state),
         .text("createTime", WireDate.format(createdAt)), .text("volumeType", volume.volumeType),
         .text("iops", "\(Self.nominalIops(volume))"), .text("throughput", "\(Self.nominalThroughput(volume))"),
         .text("multiAttachEnabled", "false"), .text("encrypted", "false")]
    }

    /// EC2's baseline IOPS for the type and size (gp2: 3 per GiB, 100 to 16,000; gp3: 3,000). Nominal: veem does not
    /// throttle disks yet.
    static func nominalIops(_ volume: VolumeRecord) -> Int {
        switch volume.volumeType {
        case "gp3": 3000
        case "io1", "io2": min(max(volume.size * 50, 100), 64_000)
        case "standard", "sc1", "st1": 100
        default: min(max(volume.size * 3, 100), 16_000)
        }
    }

    /// EC2's throughput for the type in MiB/s (gp3: 125 baseline). Nominal, as the IOPS.
    static func nominalThroughput(_ volume: VolumeRecord) -> Int {
        ["gp3": 125, "gp2": 250, "io1": 1000, "io2": 1000, "st1": 500, "sc1": 250, "standard": 90][volume.volumeType] ?? 125
    }

    func attachmentItem(_ id: String, _ attachment: VolumeRecord.Attachment, status: String) -> [EC2XML.Node] {
        [.text("volumeId", id), .text("instanceId", attachment.instanceId), .text("device", attachment.device),
         .text("status", status), .text("attachTime", WireDate.format(attachment.attachTime)),
         .text("deleteOnTermination", "false")]
    }

    static let volumeActions: [String: Action] = [
        "CreateVolume": Action(readOnly: false) { try $0.createVolume() },
        "DeleteVolume": Action(readOnly: false) { try $0.deleteVolume() },
        "AttachVolume": Action(readOnly: false) { try $0.attachVolume() },
        "DetachVolume": Action(readOnly: false) { try $0.detachVolume() },
        "DescribeVolumes": Action(readOnly: true) { try $0.describeVolumes() },
    ]
}

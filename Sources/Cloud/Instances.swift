import EC2
import Foundation
import Inventory
import VMI

/// What EC2 knows of an instance beyond its VEE (which is named after the instance id).
struct InstanceRecord: StoredResource {
    static let kind = "instance"
    /// The VEE's id.
    var vee: String
    var reservationId: String
    var imageId: String
    var instanceType: String
    var keyName: String?
    var groups: [String]
    var zone: String
    var launchTime: Date
    var launchIndex: Int
    var userData: String?
    var clientToken: String?
    /// DisableApiTermination: TerminateInstances refuses it while set.
    var disableApiTermination: Bool?
    /// InstanceInitiatedShutdownBehavior: stop (default) or terminate.
    var shutdownBehavior: String?
    /// Its subnet and VPC, and the id of its one network interface there; nil for instances launched before VPCs.
    var subnetId: String?
    var vpcId: String?
    var networkInterfaceId: String?
}

/// One RunInstances call's instances, found again by its ClientToken.
struct ReservationRecord: StoredResource {
    static let kind = "reservation"
    var instances: [String]
    /// The call's parameters without the token: a retry must match them.
    var parameters: [String: String]
}

/// An instance joined with its VEE, ready to render or filter.
struct Instance {
    var owned: Owned<InstanceRecord>
    var vee: VEEView
    var state: InstanceState
    var groupNames: [String: String]
    var publicIp: String?
    /// Volumes attached to it: (volume id, attachment).
    var volumes: [(String, VolumeRecord.Attachment)] = []
    var id: String { owned.id }
    var record: InstanceRecord { owned.body }
    /// Its interface on its subnet's network, as the inventory allocated it.
    var interface: VEEInterface? { record.subnetId == nil ? nil : vee.interfaces?.first }
}

extension CloudCall {
    /// Terminated instances stay visible this long, as on EC2.
    static let terminatedVisibility: TimeInterval = 3600

    /// The caller's instances (those named, or all that are still visible), with their VEEs.
    func instances(_ ids: [String] = []) throws -> [Instance] {
        let notFound = { (id: String) in EC2Error.notFound("InvalidInstanceID.NotFound", id, "instance ID") }
        let owned = try selected(ids, InstanceRecord.self, notFound: notFound)
        let vees = Dictionary(try tx.vees(ids: owned.map(\.body.vee)).map { ($0.id, $0) },
                              uniquingKeysWith: { a, _ in a })
        let groups = Dictionary(try all(SecurityGroupRecord.self).map { ($0.id, $0.record.name ?? "") },
                                uniquingKeysWith: { a, _ in a })
        var addresses: [String: String] = [:]
        for address in try all(AddressRecord.self) {
            if let instance = address.body.instanceId { addresses[instance] = address.body.publicIp }
        }
        var volumes: [String: [(String, VolumeRecord.Attachment)]] = [:]
        for volume in try all(VolumeRecord.self) {
            if let attachment = volume.body.attachment {
                volumes[attachment.instanceId, default: []].append((volume.id, attachment))
            }
        }
        return owned.compactMap { owned -> Instance? in
            guard let vee = vees[owned.body.vee] else { return nil }
            let state = InstanceState(vee)
            if ids.isEmpty, state == .terminated, now.timeIntervalSince(vee.updatedAt) > Self.terminatedVisibility {
                return nil
            }
            return Instance(owned: owned, vee: vee, state: state, groupNames: groups, publicIp: addresses[owned.id],
                            volumes: (volumes[owned.id] ?? []).sorted { $0.1.device < $1.1.device })
        }
    }

    func instanceItem(_ instance: Instance) throws -> [EC2XML.Node] {
        let record = instance.record
        let type = site.instanceType(record.instanceType)
        var item: [EC2XML.Node] = [
            .text("instanceId", instance.id),
            .text("imageId", record.imageId),
            .element("instanceState", [.text("code", "\(instance.state.code)"), .text("name", instance.state.name)]),
            .text("privateDnsName", privateDnsName(instance.interface?.address)),
            .text("dnsName", ""),
            .text("reason", instance.state.reason?.message ?? ""),
        ]
        if let key = record.keyName { item.append(.text("keyName", key)) }
        item += [
            .text("amiLaunchIndex", "\(record.launchIndex)"),
            .text("instanceType", record.instanceType),
            .text("launchTime", WireDate.format(record.launchTime)),
            .element("placement", [.text("availabilityZone", record.zone), .text("tenancy", "default")]),
            .element("monitoring", [.text("state", "disabled")]),
            .items("groupSet", record.groups.map { [.text("groupId", $0),
                                                    .text("groupName", instance.groupNames[$0] ?? "")] }),
        ]
        if let reason = instance.state.reason {
            item.append(.element("stateReason", [.text("code", reason.code), .text("message", reason.message)]))
        }
        if let interface = instance.interface {
            item.append(.text("privateIpAddress", interface.address))
        }
        if let ip = instance.publicIp { item.append(.text("ipAddress", ip)) }
        if let subnet = record.subnetId, let vpc = record.vpcId {
            item += [.text("subnetId", subnet), .text("vpcId", vpc), .text("sourceDestCheck", "true"),
                     .items("networkInterfaceSet", try networkInterface(of: instance).map { [$0] } ?? [])]
        }
        // The root disk is the VEE's own (not an EC2 volume), so it is instance-store on the first virtio disk;
        // attached volumes are the block device mappings. The metadata service is on every network of the host.
        item += [
            .text("architecture", "x86_64"),
            .text("rootDeviceType", "instance-store"),
            .text("rootDeviceName", "/dev/vda"),
            .items("blockDeviceMapping", blockDeviceMappings(instance)),
            .text("virtualizationType", "hvm"),
            .text("hypervisor", "xen"),
            .element("hibernationOptions", [.text("configured", "false")]),
            .element("metadataOptions", [.text("state", "applied"), .text("httpTokens", "optional"),
                                         .text("httpPutResponseHopLimit", "1"),
                                         .text("httpEndpoint", instance.interface == nil ? "disabled" : "enabled"),
                                         .text("httpProtocolIpv6", "disabled"),
                                         .text("instanceMetadataTags", "disabled")]),
            .element("cpuOptions", [.text("coreCount", "\(type?.cpus ?? instance.vee.spec.cpus)"),
                                    .text("threadsPerCore", "1")]),
            try tagSet(instance.id),
            // veem's own: the VMI state behind the EC2 one.
            .text("veemState", instance.vee.observed.rawValue),
        ]
        return item
    }

    /// The attached volumes, as EC2's block device mappings.
    func blockDeviceMappings(_ instance: Instance) -> [[EC2XML.Node]] {
        instance.volumes.map { volume, attachment in
            [.text("deviceName", attachment.device),
             .element("ebs", [.text("volumeId", volume), .text("status", "attached"),
                              .text("attachTime", WireDate.format(attachment.attachTime)),
                              .text("deleteOnTermination", "false")])]
        }
    }

    func reservationBody(_ id: String, _ instances: [Instance]) throws -> [EC2XML.Node] {
        [.text("reservationId", id), .text("ownerId", account), .items("groupSet", []),
         .items("instancesSet", try instances.map(instanceItem))]
    }

    static var instanceFilters: [String: (Instance) -> [String]] { [
        "instance-id": { [$0.id] },
        "instance-state-name": { [$0.state.name] },
        "instance-state-code": { ["\($0.state.code)"] },
        "instance-type": { [$0.record.instanceType] },
        "image-id": { [$0.record.imageId] },
        "key-name": { $0.record.keyName.map { [$0] } ?? [] },
        "availability-zone": { [$0.record.zone] },
        "reservation-id": { [$0.record.reservationId] },
        "owner-id": { [$0.owned.record.account] },
        "ip-address": { $0.publicIp.map { [$0] } ?? [] },
        "instance.group-id": { $0.record.groups },
        "group-id": { $0.record.groups },
        "instance.group-name": { instance in instance.record.groups.compactMap { instance.groupNames[$0] } },
        "group-name": { instance in instance.record.groups.compactMap { instance.groupNames[$0] } },
        "launch-time": { [WireDate.format($0.record.launchTime)] },
        "veem-state": { [$0.vee.observed.rawValue] },
    ] }

    func describeInstances() throws -> [EC2XML.Node] {
        let ids = try self.ids("InstanceId", prefix: "i", notFound: "InvalidInstanceID")
        let page = try Page(form, idsGiven: !ids.isEmpty, idName: "InstanceId")
        let (all, next) = page.slice(try filtered(try instances(ids), id: \.id, Self.instanceFilters)) {
            Page.key($0.record.launchTime, $0.id)
        }
        var order: [String] = []
        var byReservation: [String: [Instance]] = [:]
        for instance in all {
            if byReservation[instance.record.reservationId] == nil { order.append(instance.record.reservationId) }
            byReservation[instance.record.reservationId, default: []].append(instance)
        }
        return [.items("reservationSet", try order.map { try reservationBody($0, byReservation[$0]!) })]
            + page.token(next)
    }

    /// Applies a VMI action to each named instance: `instancesSet` with previous and current states.
    func changeInstances(_ action: VEEAction?) throws -> [EC2XML.Node] {
        let ids = try self.ids("InstanceId", prefix: "i", notFound: "InvalidInstanceID")
        guard !ids.isEmpty else { throw EC2Error.missingParameter("InstanceId") }
        var items: [[EC2XML.Node]] = []
        let found = try instances(ids)
        if action == .destroy {
            for instance in found where instance.record.disableApiTermination == true {
                throw EC2Error("OperationNotPermitted", "The instance '\(instance.id)' may not be terminated. Modify "
                    + "its 'disableApiTermination' instance attribute and try again.")
            }
        }
        for instance in found {
            var vee = instance.vee
            if let action, vee.desired != .destroyed || action == .destroy {
                do {
                    vee = try operations.control(instance.vee.id, action, tx, now, &effects)
                } catch let error as VMIError where error.code == .illegalTransition {
                    throw EC2Error("IncorrectInstanceState", "The instance '\(instance.id)' is not in a state from "
                        + "which it can be \(Self.verb(action)): \(error.message)")
                }
                if action == .destroy { try releaseAttachments(of: instance.id) }
            } else if action != nil {
                throw EC2Error("IncorrectInstanceState", "The instance '\(instance.id)' is terminated")
            }
            let state = InstanceState(vee)
            items.append([.text("instanceId", instance.id),
                          .element("currentState", [.text("code", "\(state.code)"), .text("name", state.name)]),
                          .element("previousState", [.text("code", "\(instance.state.code)"),
                                                     .text("name", instance.state.name)])])
        }
        return [.items("instancesSet", items)]
    }

    static func verb(_ action: VEEAction) -> String {
        switch action {
        case .activate: "started"
        case .pause: "paused"
        case .suspend: "suspended"
        case .shutdown: "stopped"
        case .destroy: "terminated"
        }
    }

    /// A terminated instance lets go of its address and volumes, as on EC2.
    func releaseAttachments(of instance: String) throws {
        for var address in try all(AddressRecord.self) where address.body.instanceId == instance {
            address.body.instanceId = nil
            address.body.associationId = nil
            try update(address)
        }
        for var volume in try all(VolumeRecord.self) where volume.body.attachment?.instanceId == instance {
            volume.body.attachment = nil
            volume.body.state = "available"
            try update(volume)
        }
    }

    func rebootInstances() throws -> [EC2XML.Node] {
        let ids = try self.ids("InstanceId", prefix: "i", notFound: "InvalidInstanceID")
        guard !ids.isEmpty else { throw EC2Error.missingParameter("InstanceId") }
        let found = try instances(ids)
        for instance in found where instance.state != .running {
            throw EC2Error("IncorrectInstanceState", "The instance '\(instance.id)' is not running")
        }
        // Its host reboots the guest (ACPI, then a reset if the boot marker does not come back in time).
        for instance in found {
            guard let view = try tx.requestReboot(instance.vee.id, at: now) else { continue }
            effects.commands.append(view)
            effects.events.append(SiteEvent(kind: .veeStateChanged, vee: instance.vee.id, state: .active,
                                            message: "\(instance.id): reboot requested through EC2"))
        }
        return [.text("return", "true")]
    }

    static let instanceActions: [String: Action] = [
        "RunInstances": Action(readOnly: false) { try $0.runInstances() },
        "DescribeInstances": Action(readOnly: true) { try $0.describeInstances() },
        "TerminateInstances": Action(readOnly: false) { try $0.changeInstances(.destroy) },
        "StopInstances": Action(readOnly: false) { try $0.changeInstances(.shutdown) },
        "StartInstances": Action(readOnly: false) { try $0.changeInstances(.activate) },
        "RebootInstances": Action(readOnly: false) { try $0.rebootInstances() },
        "PauseInstances": Action(readOnly: false) { try $0.changeInstances(.pause) },
        "UnpauseInstances": Action(readOnly: false) { try $0.changeInstances(.activate) },
        "SuspendInstances": Action(readOnly: false) { try $0.changeInstances(.suspend) },
        "ResumeInstances": Action(readOnly: false) { try $0.changeInstances(.activate) },
    ]
}

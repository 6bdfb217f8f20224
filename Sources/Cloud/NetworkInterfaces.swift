import EC2
import Foundation
import VMI

/// An instance's network interface on its subnet, as EC2 shows it: the VEE's interface (MAC and address from the
/// inventory) under an `eni-` id kept on the instance. It lives and goes with its instance.
extension CloudCall {
    /// EC2's private DNS name for an address (`ip-172-31-0-10.<region>.compute.internal`); "" without one.
    func privateDnsName(_ address: String?) -> String {
        guard let address else { return "" }
        return "ip-\(address.replacingOccurrences(of: ".", with: "-")).\(site.region).compute.internal"
    }

    /// The interface as DescribeInstances nests it; nil when the instance has none (yet).
    func networkInterface(of instance: Instance) throws -> [EC2XML.Node]? {
        guard let interface = instance.interface, let id = instance.record.networkInterfaceId,
              let subnet = instance.record.subnetId, let vpc = instance.record.vpcId
        else { return nil }
        let dns = privateDnsName(interface.address)
        let association: [EC2XML.Node] = instance.publicIp.map {
            [.element("association", [.text("publicIp", $0), .text("publicDnsName", ""), .text("ipOwnerId", account)])]
        } ?? []
        return [
            .text("networkInterfaceId", id), .text("subnetId", subnet), .text("vpcId", vpc),
            .text("description", ""), .text("ownerId", account), .text("status", "in-use"),
            .text("macAddress", interface.mac), .text("privateIpAddress", interface.address),
            .text("privateDnsName", dns), .text("sourceDestCheck", "true"),
            .items("groupSet", instance.record.groups.map { [.text("groupId", $0),
                                                              .text("groupName", instance.groupNames[$0] ?? "")] }),
            .element("attachment", [
                .text("attachmentId", "eni-attach-" + id.dropFirst(4)), .text("deviceIndex", "0"),
                .text("status", "attached"), .text("attachTime", WireDate.format(instance.record.launchTime)),
                .text("deleteOnTermination", "true"), .text("networkCardIndex", "0"),
            ]),
        ] + association + [
            .items("privateIpAddressesSet", [[.text("privateIpAddress", interface.address),
                                              .text("privateDnsName", dns), .text("primary", "true")] + association]),
            .items("ipv6AddressesSet", []),
            .text("interfaceType", "interface"),
        ]
    }

    func describeNetworkInterfaces() throws -> [EC2XML.Node] {
        let ids = try self.ids("NetworkInterfaceId", prefix: "eni", notFound: "InvalidNetworkInterfaceID")
        let page = try Page(form, idsGiven: !ids.isEmpty, idName: "NetworkInterfaceId")
        // An interface goes with its instance, as EC2's deleteOnTermination does.
        let live = try instances().filter {
            $0.state != .terminated && $0.record.networkInterfaceId != nil && $0.interface != nil
        }
        for id in ids where !live.contains(where: { $0.record.networkInterfaceId == id }) {
            throw EC2Error.notFound("InvalidNetworkInterfaceID.NotFound", id, "network interface ID")
        }
        let chosen = ids.isEmpty ? live : live.filter { ids.contains($0.record.networkInterfaceId!) }
        let matching = try filtered(chosen, id: { $0.record.networkInterfaceId! }, [
            "network-interface-id": { [$0.record.networkInterfaceId!] },
            "subnet-id": { [$0.record.subnetId ?? ""] },
            "vpc-id": { [$0.record.vpcId ?? ""] },
            "availability-zone": { [$0.record.zone] },
            "attachment.instance-id": { [$0.id] },
            "attachment.status": { _ in ["attached"] },
            "private-ip-address": { [$0.interface!.address] },
            "addresses.private-ip-address": { [$0.interface!.address] },
            "mac-address": { [$0.interface!.mac] },
            "status": { _ in ["in-use"] },
            "owner-id": { _ in [self.account] },
            "group-id": { $0.record.groups },
        ])
        let (shown, next) = page.slice(matching) { Page.key($0.record.launchTime, $0.record.networkInterfaceId!) }
        return [.items("networkInterfaceSet", try shown.map { instance in
            var item = try networkInterface(of: instance)!
            item.removeAll { if case .element("attachment", _) = $0 { true } else { false } }
            item += [
                .text("availabilityZone", instance.record.zone), .text("requesterManaged", "false"),
                .element("attachment", [
                    .text("attachmentId", "eni-attach-" + instance.record.networkInterfaceId!.dropFirst(4)),
                    .text("instanceId", instance.id), .text("instanceOwnerId", account), .text("deviceIndex", "0"),
                    .text("status", "attached"), .text("attachTime", WireDate.format(instance.record.launchTime)),
                    .text("deleteOnTermination", "true"), .text("networkCardIndex", "0"),
                ]),
                try tagSet(instance.record.networkInterfaceId!),
            ]
            return item
        })] + page.token(next)
    }
}

import EC2
import VMI

/// Regions (this site), availability zones (its host groups), instance types (its hardware profiles) and the
/// account attributes the site implies.
extension CloudCall {
    /// Host groups that have hosts, or `default` on a site without any yet.
    func zones() throws -> [String] {
        let groups = Set(try tx.hostGroups().values)
        return groups.isEmpty ? ["default"] : groups.sorted()
    }

    func describeRegions() throws -> [EC2XML.Node] {
        let names = form.list("RegionName")
        for name in names where name != site.region {
            throw EC2Error.invalidParameterValue("RegionName", "'\(name)' is not this site ('\(site.region)')")
        }
        let regions = try filtered([site.region], id: { $0 }, [
            "region-name": { region in [region] },
            "endpoint": { region in ["ec2.\(region).veem"] },
            "opt-in-status": { region in ["opt-in-not-required"] },
        ])
        return [.items("regionInfo", regions.map {
            [.text("regionName", $0), .text("regionEndpoint", "ec2.\($0).veem"),
             .text("optInStatus", "opt-in-not-required")]
        })]
    }

    func describeAvailabilityZones() throws -> [EC2XML.Node] {
        let hosts = try tx.hosts()
        let known = try zones()
        let names = form.list("ZoneName")
        for name in names where !known.contains(name) {
            throw EC2Error.invalidParameterValue("ZoneName", "'\(name)' is not a zone of this site")
        }
        let state = { (zone: String) in
            hosts.contains { ($0.group ?? "default") == zone && $0.state == .up } ? "available" : "unavailable"
        }
        let shown = try filtered(names.isEmpty ? known : names, id: { $0 }, [
            "zone-name": { zone in [zone] },
            "zone-id": { zone in [self.zoneId(zone)] },
            "state": { zone in [state(zone)] },
            "region-name": { zone in [self.site.region] },
        ])
        return [.items("availabilityZoneInfo", shown.map { zone in
            [.text("zoneName", zone), .text("zoneState", state(zone)), .text("regionName", site.region),
             .text("zoneId", zoneId(zone)), .text("zoneType", "availability-zone"),
             .items("messageSet", [])]
        })]
    }

    /// A zone named in EC2's shape, `<region><letter>` (`us-east-1a`), has EC2's kind of id, `<short region>-az<n>`
    /// (`use1-az1`); any other host group name is `<region>-<group>`.
    func zoneId(_ zone: String) -> String { Self.zoneId(zone, region: site.region) }

    static func zoneId(_ zone: String, region: String) -> String {
        guard zone.count == region.count + 1, zone.hasPrefix(region), let letter = zone.last,
              let value = letter.asciiValue, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(value)
        else { return "\(region)-\(zone)" }
        let parts = region.split(separator: "-")
        let short = parts.enumerated().map { index, part in
            index == 0 || part.allSatisfy(\.isNumber) ? String(part) : String(part.prefix(1))
        }.joined()
        return "\(short)-az\(value - UInt8(ascii: "a") + 1)"
    }

    func describeInstanceTypes() throws -> [EC2XML.Node] {
        let names = form.list("InstanceType")
        for name in names where site.instanceType(name) == nil {
            throw EC2Error.invalidParameterValue("InstanceType", "'\(name)' is not one of this site's types")
        }
        let page = try Page(form, idsGiven: !names.isEmpty, idName: "InstanceType", range: 5...100)
        let types = site.instanceTypes.filter { names.isEmpty || names.contains($0.name) }
        let order = Dictionary(types.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        let matching = try filtered(types, id: \.name, [
            "instance-type": { type in [type.name] },
            "vcpu-info.default-vcpus": { type in ["\(type.cpus)"] },
            "memory-info.size-in-mib": { type in ["\(type.memoryMiB)"] },
            "instance-storage-info.total-size-in-gb": { type in ["\(type.diskGiB)"] },
        ])
        let (shown, next) = page.slice(matching) { String(format: "%08d", order[$0.name] ?? 0) }
        return [.items("instanceTypeSet", shown.map { type in
            [.text("instanceType", type.name), .text("currentGeneration", "true"),
             .element("vCpuInfo", [.text("defaultVCpus", "\(type.cpus)"), .text("defaultCores", "\(type.cpus)"),
                                   .text("defaultThreadsPerCore", "1")]),
             .element("memoryInfo", [.text("sizeInMiB", "\(type.memoryMiB)")]),
             .text("instanceStorageSupported", type.diskGiB > 0 ? "true" : "false"),
             .element("instanceStorageInfo", [.text("totalSizeInGB", "\(type.diskGiB)")]),
             .element("processorInfo", [.element("supportedArchitectures", [.text("item", "x86_64")])]),
             .element("supportedUsageClasses", [.text("item", "on-demand")]),
             .element("supportedRootDeviceTypes", [.text("item", "instance-store")])]
        })] + page.token(next)
    }

    /// DescribeAccountAttributes: what Terraform and the SDKs ask first. veem sets no per-account quotas, so the
    /// limits are the site's: its CPUs (each instance needs at least one) and its public address pool.
    func describeAccountAttributes() throws -> [EC2XML.Node] {
        let cpus = try tx.hosts().filter { $0.state == .up }.map(\.capacity.cpus).reduce(0, +)
        let attributes: [(String, [String])] = [
            ("supported-platforms", ["VPC"]),
            ("default-vpc", ["none"]),
            ("max-instances", ["\(cpus)"]),
            ("vpc-max-security-groups-per-interface", ["5"]),
            ("max-elastic-ips", ["\(site.addressPool.count)"]),
            ("vpc-max-elastic-ips", ["\(site.addressPool.count)"]),
        ]
        let asked = form.list("AttributeName")
        for name in asked where !attributes.contains(where: { $0.0 == name }) {
            throw EC2Error.invalidParameterValue("AttributeName", "'\(name)' is not an account attribute (one of "
                + attributes.map(\.0).joined(separator: ", ") + ")")
        }
        return [.items("accountAttributeSet", attributes.filter { asked.isEmpty || asked.contains($0.0) }.map {
            [.text("attributeName", $0.0), .items("attributeValueSet", $0.1.map { [.text("attributeValue", $0)] })]
        })]
    }

    static let siteActions: [String: Action] = [
        "DescribeRegions": Action(readOnly: true) { try $0.describeRegions() },
        "DescribeAvailabilityZones": Action(readOnly: true) { try $0.describeAvailabilityZones() },
        "DescribeInstanceTypes": Action(readOnly: true) { try $0.describeInstanceTypes() },
        "DescribeAccountAttributes": Action(readOnly: true) { try $0.describeAccountAttributes() },
    ]
}

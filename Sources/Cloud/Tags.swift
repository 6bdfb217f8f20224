import EC2
import Inventory

extension CloudCall {
    /// EC2's resource type for each kind of stored resource.
    static let resourceTypes = [
        InstanceRecord.kind: "instance", VolumeRecord.kind: "volume", SecurityGroupRecord.kind: "security-group",
        ImageRecord.kind: "image", AddressRecord.kind: "elastic-ip", KeyPairRecord.kind: "key-pair",
        ReservationRecord.kind: "reservation", VpcRecord.kind: "vpc", SubnetRecord.kind: "subnet",
    ]

    /// The not-found code EC2 gives for an id, by its prefix.
    static func notFoundCode(_ id: String) -> String {
        let codes = ["i": "InvalidInstanceID.NotFound", "vol": "InvalidVolume.NotFound", "sg": "InvalidGroup.NotFound",
                     "ami": "InvalidAMIID.NotFound", "eipalloc": "InvalidAllocationID.NotFound",
                     "key": "InvalidKeyPair.NotFound", "vpc": "InvalidVpcID.NotFound",
                     "subnet": "InvalidSubnetID.NotFound"]
        return id.split(separator: "-").first.flatMap { codes[String($0)] } ?? "InvalidID"
    }

    /// The caller's resources named by ResourceId.N.
    func taggedResources() throws -> [CloudResource] {
        let ids = form.list("ResourceId")
        guard !ids.isEmpty else { throw EC2Error.missingParameter("ResourceId") }
        return try ids.map { id in
            guard let record = try tx.resource(id), record.account == account else {
                throw EC2Error(Self.notFoundCode(id), "The ID '\(id)' does not exist")
            }
            return record
        }
    }

    static let maxTagsPerResource = 50

    func createTags() throws -> [EC2XML.Node] {
        let tags = form.tags()
        guard !tags.isEmpty else { throw EC2Error.missingParameter("Tag") }
        try Self.validate(tags)
        for resource in try taggedResources() {
            try tx.setTags(resource.id, tags)
            let count = try self.tagsNow(resource.id)
            guard count <= Self.maxTagsPerResource else {
                throw EC2Error("TagLimitExceeded", "\(resource.id) would have \(count) tags; the limit is "
                    + "\(Self.maxTagsPerResource)")
            }
        }
        return [.text("return", "true")]
    }

    private func tagsNow(_ id: String) throws -> Int { try tx.tags(account: account)[id]?.count ?? 0 }

    /// Tag.N.Key alone removes the key; with Tag.N.Value, only when the value matches.
    func deleteTags() throws -> [EC2XML.Node] {
        let resources = try taggedResources()
        let keys = form.indices(of: "Tag").compactMap { index in
            form["Tag.\(index).Key"].map { (key: $0, value: form["Tag.\(index).Value"]) }
        }
        for resource in resources {
            if keys.isEmpty {
                for tag in try tags[resource.id] ?? [] { try tx.deleteTag(resource.id, key: tag.key, value: nil) }
            }
            for key in keys { try tx.deleteTag(resource.id, key: key.key, value: key.value) }
        }
        return [.text("return", "true")]
    }

    func describeTags() throws -> [EC2XML.Node] {
        let kinds = Dictionary(try Self.resourceTypes.keys.flatMap { kind in
            try tx.resources(kind: kind, account: account).map { ($0.id, Self.resourceTypes[kind]!) }
        }, uniquingKeysWith: { a, _ in a })
        struct Tag { var resource, type, key, value: String }
        let all = try tags.sorted { $0.key < $1.key }.flatMap { resource, tags in
            tags.map { Tag(resource: resource, type: kinds[resource] ?? "", key: $0.key, value: $0.value) }
        }
        let known: [String: (Tag) -> [String]] = [
            "resource-id": { [$0.resource] }, "resource-type": { [$0.type] }, "key": { [$0.key] },
            "value": { [$0.value] },
        ]
        let filters = Filters(form)
        try filters.check(known.keys)
        let page = try Page(form, idsGiven: false, idName: "", range: 5...1000)
        let (shown, next) = page.slice(try all.filter { tag in try filters.match(tags: []) { known[$0]?(tag) } }) {
            $0.resource + "\u{0}" + $0.key
        }
        return [.items("tagSet", shown.map { [.text("resourceId", $0.resource), .text("resourceType", $0.type),
                                              .text("key", $0.key), .text("value", $0.value)] })] + page.token(next)
    }

    static let tagActions: [String: Action] = [
        "CreateTags": Action(readOnly: false) { try $0.createTags() },
        "DeleteTags": Action(readOnly: false) { try $0.deleteTags() },
        "DescribeTags": Action(readOnly: true) { try $0.describeTags() },
    ]
}

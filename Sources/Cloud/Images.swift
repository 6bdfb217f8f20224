import EC2
import Foundation
import VMI

/// An image an account registered.
struct ImageRecord: StoredResource {
    static let kind = "image"
    var description: String?
    /// The image file hosts offer (what VEE specs name).
    var location: String
    var isPublic: Bool
    /// Accounts the owner shared it with.
    var launchPermissions: [String]
}

/// An image as a caller sees it: one the site declares, or one an account registered.
struct ImageInfo {
    var id: String
    var name: String
    var description: String?
    var location: String
    /// An account id, or `veem` for the site's own.
    var owner: String
    var isPublic: Bool
    var launchPermissions: [String]
    var createdAt: Date?
}

extension CloudCall {
    static let siteOwner = "veem"

    /// Every image the caller may launch: the site's, its own, public ones and those shared with it.
    func visibleImages() throws -> [ImageInfo] {
        let declared = site.images.map {
            ImageInfo(id: $0.id, name: $0.name, location: $0.location, owner: Self.siteOwner, isPublic: true,
                      launchPermissions: [])
        }
        let registered = try tx.resources(kind: ImageRecord.kind, account: nil).map { record -> ImageInfo in
            let image: Owned<ImageRecord> = try decode(record)
            return ImageInfo(id: record.id, name: record.name ?? "", description: image.body.description,
                             location: image.body.location, owner: record.account, isPublic: image.body.isPublic,
                             launchPermissions: image.body.launchPermissions, createdAt: record.createdAt)
        }.filter { $0.owner == account || $0.isPublic || $0.launchPermissions.contains(account) }
        return declared + registered
    }

    func visibleImage(_ id: String) throws -> ImageInfo? { try visibleImages().first { $0.id == id } }

    func describeImages() throws -> [EC2XML.Node] {
        let ids = try self.ids("ImageId", prefix: "ami", notFound: "InvalidAMIID")
        var images = try visibleImages()
        let page = try Page(form, idsGiven: !ids.isEmpty, idName: "ImageId")
        for id in ids where !images.contains(where: { $0.id == id }) {
            throw EC2Error.notFound("InvalidAMIID.NotFound", id, "image id")
        }
        if !ids.isEmpty { images = images.filter { ids.contains($0.id) } }
        let owners = form.list("Owner").map { $0 == "self" ? account : $0 }
        if !owners.isEmpty { images = images.filter { owners.contains($0.owner) } }
        let executableBy = form.list("ExecutableBy")
        if !executableBy.isEmpty {
            images = images.filter { image in
                executableBy.contains { who in
                    who == "all" ? image.isPublic
                        : image.launchPermissions.contains(who == "self" ? account : who)
                            || (who == "self" && image.owner == account)
                }
            }
        }
        let matching = try filtered(images, id: \.id, [
            "image-id": { image in [image.id] },
            "name": { image in [image.name] },
            "owner-id": { image in [image.owner] },
            "state": { image in ["available"] },
            "is-public": { image in [image.isPublic ? "true" : "false"] },
            "architecture": { image in ["x86_64"] },
            "image-type": { image in ["machine"] },
            "description": { image in [image.description ?? ""] },
        ])
        // The site's own images (no creation time) come first, in declared order.
        let order = Dictionary(images.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        let (shown, next) = page.slice(matching) { image in
            image.createdAt.map { Page.key($0, image.id) } ?? String(format: "-%08d", order[image.id] ?? 0)
        }
        return [.items("imagesSet", try shown.map { image in
            var item: [EC2XML.Node] = [
                .text("imageId", image.id), .text("imageLocation", image.location), .text("imageState", "available"),
                .text("imageOwnerId", image.owner), .text("isPublic", image.isPublic ? "true" : "false"),
                .text("architecture", "x86_64"), .text("imageType", "machine"), .text("name", image.name),
                .text("rootDeviceType", "instance-store"), .text("virtualizationType", "hvm"),
                .text("hypervisor", "xen"),
            ]
            if let created = image.createdAt { item.append(.text("creationDate", WireDate.format(created))) }
            if let description = image.description { item.append(.text("description", description)) }
            item.append(try tagSet(image.id))
            return item
        })] + page.token(next)
    }

    /// ImageLocation names the image file hosts offer; Name is unique per account.
    func registerImage() throws -> [EC2XML.Node] {
        let name = try form.required("Name")
        guard (3...128).contains(name.count) else {
            throw EC2Error.invalidParameterValue("Name", "must be 3-128 characters")
        }
        let location = try form.required("ImageLocation")
        guard location.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }), location.count <= 63 else {
            throw EC2Error.invalidParameterValue("ImageLocation", "must name an image file hosts offer (letters, "
                + "digits, '.', '_', '-')")
        }
        let id = ResourceID.make("ami")
        try insert(ImageRecord(description: form["Description"], location: location, isPublic: false,
                               launchPermissions: []),
                   id: id, name: name,
                   duplicate: EC2Error("InvalidAMIName.Duplicate", "AMI name \(name) is already in use by AMI "
                       + "of this account"))
        try applyTagSpecifications("image", to: [id])
        return [.text("imageId", id)]
    }

    func ownedImage() throws -> Owned<ImageRecord> {
        let id = try requiredId("ImageId", prefix: "ami", code: "InvalidAMIID")
        return try owned(id, ImageRecord.self, notFound: .notFound("InvalidAMIID.NotFound", id, "image id"))
    }

    func deregisterImage() throws -> [EC2XML.Node] {
        try tx.deleteResource(try ownedImage().id)
        return [.text("return", "true")]
    }

    /// launchPermission: `OperationType` with `UserId.N` / `UserGroup.N`, or `LaunchPermission.Add|Remove.N.UserId`
    /// / `.Group` (what awscli sends for `--launch-permission`). Description too.
    func modifyImageAttribute() throws -> [EC2XML.Node] {
        var image = try ownedImage()
        if let description = form["Description.Value"] {
            image.body.description = description
            try update(image)
            return [.text("return", "true")]
        }
        var add: [String] = [], remove: [String] = []
        if let operation = form["OperationType"] {
            guard ["add", "remove"].contains(operation) else {
                throw EC2Error.invalidParameterValue("OperationType", "must be add or remove")
            }
            let who = form.list("UserId") + form.list("UserGroup")
            if operation == "add" { add = who } else { remove = who }
        }
        for index in form.indices(of: "LaunchPermission.Add") {
            add += [form["LaunchPermission.Add.\(index).UserId"], form["LaunchPermission.Add.\(index).Group"]]
                .compactMap { $0 }
        }
        for index in form.indices(of: "LaunchPermission.Remove") {
            remove += [form["LaunchPermission.Remove.\(index).UserId"], form["LaunchPermission.Remove.\(index).Group"]]
                .compactMap { $0 }
        }
        guard !add.isEmpty || !remove.isEmpty else { throw EC2Error.missingParameter("LaunchPermission") }
        for who in add + remove where who != "all" {
            guard who.count == 12, who.allSatisfy(\.isNumber) else {
                throw EC2Error.invalidParameterValue("UserId", "'\(who)' is not a 12-digit account id")
            }
            guard try tx.accountExists(who) else {
                throw EC2Error("InvalidUserID.Malformed", "No account has the id '\(who)'")
            }
        }
        for who in add {
            if who == "all" { image.body.isPublic = true } else if !image.body.launchPermissions.contains(who) {
                image.body.launchPermissions.append(who)
            }
        }
        for who in remove {
            if who == "all" { image.body.isPublic = false } else { image.body.launchPermissions.removeAll { $0 == who } }
        }
        try update(image)
        return [.text("return", "true")]
    }

    func describeImageAttribute() throws -> [EC2XML.Node] {
        let image = try ownedImage()
        let attribute = try form.required("Attribute")
        switch attribute {
        case "launchPermission":
            let items: [[EC2XML.Node]] = (image.body.isPublic ? [[.text("group", "all")]] : [])
                + image.body.launchPermissions.map { [.text("userId", $0)] }
            return [.text("imageId", image.id), .items("launchPermission", items)]
        case "description":
            return [.text("imageId", image.id), .element("description", [.text("value", image.body.description ?? "")])]
        default:
            throw EC2Error.invalidParameterValue("Attribute", "'\(attribute)' is not supported (launchPermission, "
                + "description)")
        }
    }

    static let imageActions: [String: Action] = [
        "DescribeImages": Action(readOnly: true) { try $0.describeImages() },
        "RegisterImage": Action(readOnly: false) { try $0.registerImage() },
        "DeregisterImage": Action(readOnly: false) { try $0.deregisterImage() },
        "ModifyImageAttribute": Action(readOnly: false) { try $0.modifyImageAttribute() },
        "DescribeImageAttribute": Action(readOnly: true) { try $0.describeImageAttribute() },
    ]
}

/// What a site offers EC2 clients: its region name, declared images, hardware profiles and public addresses.
public struct CloudSite: Sendable {
    /// The region clients sign for (the site's name).
    public var region: String
    public var images: [SiteImage]
    public var instanceTypes: [InstanceType]
    /// The type RunInstances uses when none is given (EC2's own default is m1.small).
    public var defaultInstanceType: String
    /// Public IPv4 addresses AllocateAddress hands out, in order.
    public var addressPool: [String]

    public init(region: String, images: [SiteImage] = [], instanceTypes: [InstanceType] = InstanceType.defaults,
                defaultInstanceType: String = "m1.small", addressPool: [String] = CloudSite.defaultPool) {
        self.region = region
        self.images = images
        self.instanceTypes = instanceTypes
        self.defaultInstanceType = defaultInstanceType
        self.addressPool = addressPool
    }

    /// 198.51.100.1–254 (TEST-NET-2): recorded, never routed, until the networks work brings NAT.
    public static let defaultPool = (1...254).map { "198.51.100.\($0)" }

    func instanceType(_ name: String) -> InstanceType? { instanceTypes.first { $0.name == name } }
}

/// An image the site declares, with an id that stays fixed across sites (`ami-…`).
public struct SiteImage: Sendable, Equatable {
    public var id: String
    public var name: String
    /// The image file hosts offer under this name (what a VEE's spec names).
    public var location: String

    /// Whether `id` has the shape EC2 clients accept: `ami-` and 8 to 17 hex digits.
    public static func isValidId(_ id: String) -> Bool { ResourceID.looksValid(id, prefix: "ami") }

    public init(id: String, name: String, location: String) {
        self.id = id
        self.name = name
        self.location = location
    }
}

/// A named hardware profile.
public struct InstanceType: Sendable, Equatable {
    public var name: String
    public var cpus: Int
    public var memoryMiB: Int
    public var diskGiB: Int

    public init(name: String, cpus: Int, memoryMiB: Int, diskGiB: Int) {
        self.name = name
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.diskGiB = diskGiB
    }

    /// Small profiles under familiar names; sites set their own with `VEEM_INSTANCE_TYPES`.
    public static let defaults = [
        InstanceType(name: "t2.nano", cpus: 1, memoryMiB: 128, diskGiB: 0),
        InstanceType(name: "t2.micro", cpus: 1, memoryMiB: 256, diskGiB: 1),
        InstanceType(name: "m1.small", cpus: 1, memoryMiB: 512, diskGiB: 1),
        InstanceType(name: "m1.medium", cpus: 2, memoryMiB: 1024, diskGiB: 2),
        InstanceType(name: "m1.large", cpus: 2, memoryMiB: 2048, diskGiB: 4),
    ]
}

/// What a VEE is made of: the hardware and image asked for in InitializeVEE or SubmitVEEs.
public struct VEESpec: Codable, Sendable, Equatable {
    /// Unique within the site among VEEs that are not destroyed. Letters, digits, `.`, `_`, `-`; at most 63.
    public var name: String
    public var cpus: Int
    public var memoryMiB: Int
    /// Size of the VEE's own disk; 0 means the image boots without one.
    public var diskGiB: Int
    /// The name of an image that the chosen host offers.
    public var image: String
    /// Networks ("red" LANs) the VEE joins. Recorded now; wired on hosts by the networks work.
    public var networks: [String]
    /// User data and keys its guest reads from the metadata service; absent means none.
    public var context: GuestContext?

    public init(name: String, cpus: Int = 1, memoryMiB: Int = 128, diskGiB: Int = 1, image: String,
                networks: [String] = [], context: GuestContext? = nil) {
        self.context = context
        self.name = name
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.diskGiB = diskGiB
        self.image = image
        self.networks = networks
    }

    private enum CodingKeys: String, CodingKey { case name, cpus, memoryMiB, diskGiB, image, networks, context }

    /// `networks` and `context` may be left out (no networks), as an operator writing a VEE list by hand expects.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try container.decode(String.self, forKey: .name),
                  cpus: try container.decode(Int.self, forKey: .cpus),
                  memoryMiB: try container.decode(Int.self, forKey: .memoryMiB),
                  diskGiB: try container.decode(Int.self, forKey: .diskGiB),
                  image: try container.decode(String.self, forKey: .image),
                  networks: try container.decodeIfPresent([String].self, forKey: .networks) ?? [],
                  context: try container.decodeIfPresent(GuestContext.self, forKey: .context))
    }

    public static let maxCPUs = 256
    public static let memoryMiBRange = 16...(4 << 20)
    public static let maxDiskGiB = 64 << 10

    /// Every problem with this spec, each naming its field under `path` (e.g. `vees[2]`).
    public func problems(at path: String) -> [VMIError] {
        var found: [VMIError] = []
        func bad(_ field: String, _ message: String) {
            found.append(VMIError(code: .invalidParameter, field: "\(path).\(field)", message: message))
        }
        if !Self.isValidName(name) {
            bad("name", "must be 1–63 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        if !(1...Self.maxCPUs).contains(cpus) { bad("cpus", "must be between 1 and \(Self.maxCPUs), got \(cpus)") }
        if !Self.memoryMiBRange.contains(memoryMiB) {
            bad("memoryMiB", "must be between \(Self.memoryMiBRange.lowerBound) and "
                + "\(Self.memoryMiBRange.upperBound), got \(memoryMiB)")
        }
        if !(0...Self.maxDiskGiB).contains(diskGiB) {
            bad("diskGiB", "must be between 0 and \(Self.maxDiskGiB), got \(diskGiB)")
        }
        if !Self.isValidName(image) { bad("image", "must name an image (letters, digits, '.', '_', '-')") }
        for (index, network) in networks.enumerated() where !Self.isValidName(network) {
            bad("networks[\(index)]", "must be a network name (letters, digits, '.', '_', '-')")
        }
        if let context { found += context.problems(at: "\(path).context") }
        return found
    }

    /// Names that are safe everywhere they travel: libvirt, file names, AMQP routing keys, XML.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count), bytes[0].isASCIIAlphanumeric else { return false }
        return bytes.allSatisfy { $0.isASCIIAlphanumeric || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
            || $0 == UInt8(ascii: "-") }
    }
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}

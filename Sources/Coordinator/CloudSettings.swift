import Cloud
import Daemon

/// The EC2 side of a site's settings.
///
/// - `VEEM_EC2_IMAGES`: `ID:FILE[:NAME],…`, e.g. `ami-0000000000000001:tiny`: images with fixed ids, the file hosts
///   offer, and a name (the file's when absent).
/// - `VEEM_INSTANCE_TYPES`: `NAME:CPUS:MEMORY_MIB:DISK_GIB,…`; RunInstances defaults to m1.small when listed, else the
///   first. Default: t2.nano, t2.micro, m1.small, m1.medium, m1.large.
/// - `VEEM_PUBLIC_ADDRESSES`: an IPv4 CIDR AllocateAddress hands out (default 198.51.100.0/24).
enum CloudSettings {
    static func site(region: String, settings: Settings) throws -> CloudSite {
        var site = CloudSite(region: region)
        if let text = settings["VEEM_EC2_IMAGES"] {
            site.images = try entries(text).map { fields in
                guard (2...3).contains(fields.count), SiteImage.isValidId(fields[0]), !fields[1].isEmpty else {
                    throw SettingsError(message: "VEEM_EC2_IMAGES entries are ID:FILE[:NAME] with an id of ami- and "
                        + "8 to 17 hex digits, got '"
                        + fields.joined(separator: ":") + "'")
                }
                return SiteImage(id: fields[0], name: fields.count == 3 ? fields[2] : fields[1], location: fields[1])
            }
            if Set(site.images.map(\.id)).count != site.images.count {
                throw SettingsError(message: "VEEM_EC2_IMAGES lists an image id twice")
            }
        }
        if let text = settings["VEEM_INSTANCE_TYPES"] {
            site.instanceTypes = try entries(text).map { fields in
                guard fields.count == 4, let cpus = Int(fields[1]), let memory = Int(fields[2]),
                      let disk = Int(fields[3]), cpus > 0, memory >= 16, disk >= 0
                else {
                    throw SettingsError(message: "VEEM_INSTANCE_TYPES entries are NAME:CPUS:MEMORY_MIB:DISK_GIB, got '"
                        + fields.joined(separator: ":") + "'")
                }
                return InstanceType(name: fields[0], cpus: cpus, memoryMiB: memory, diskGiB: disk)
            }
            guard !site.instanceTypes.isEmpty else {
                throw SettingsError(message: "VEEM_INSTANCE_TYPES must list at least one type")
            }
            site.defaultInstanceType = site.instanceTypes.contains { $0.name == "m1.small" }
                ? "m1.small" : site.instanceTypes[0].name
        }
        if let cidr = settings["VEEM_PUBLIC_ADDRESSES"] {
            guard let pool = addresses(cidr) else {
                throw SettingsError(message: "VEEM_PUBLIC_ADDRESSES must be an IPv4 CIDR such as 203.0.113.0/28, got "
                    + "'\(cidr)'")
            }
            site.addressPool = pool
        }
        return site
    }

    static func entries(_ text: String) -> [[String]] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
    }

    /// The usable addresses of a CIDR (without network and broadcast below /31), at most 65,536.
    static func addresses(_ cidr: String) -> [String]? {
        let parts = cidr.split(separator: "/")
        guard parts.count == 2, let bits = UInt32(parts[1]), (16...32).contains(bits) else { return nil }
        let octets = parts[0].split(separator: ".").compactMap { UInt32($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 <= 255 }) else { return nil }
        let base = octets.reduce(0) { $0 << 8 | $1 } & (bits == 32 ? ~0 : ~((1 << (32 - bits)) - 1))
        let size = UInt32(1) << (32 - bits)
        let range = bits >= 31 ? 0..<size : 1..<(size - 1)
        return range.map { offset in
            let value = base + offset
            return "\(value >> 24).\((value >> 16) & 255).\((value >> 8) & 255).\(value & 255)"
        }
    }
}

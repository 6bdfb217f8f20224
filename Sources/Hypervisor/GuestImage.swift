import Foundation

/// A bootable image a host offers. Direct kernel boot keeps the tiny default guest small; `disk` is an optional
/// qcow2 that VEE disks are layered on.
public struct GuestImage: Codable, Sendable, Equatable {
    public var name: String
    public var kernel: String?
    public var initrd: String?
    public var cmdline: String?
    public var disk: String?
    /// A line the guest prints on its serial console once booted. Without one, "running" counts as booted.
    public var bootMarker: String?

    public init(name: String, kernel: String? = nil, initrd: String? = nil, cmdline: String? = nil,
                disk: String? = nil, bootMarker: String? = nil) {
        self.name = name
        self.kernel = kernel
        self.initrd = initrd
        self.cmdline = cmdline
        self.disk = disk
        self.bootMarker = bootMarker
    }

    /// Reads every `*.json` image description in `directory`; paths in them are relative to it.
    public static func catalogue(in directory: String) throws -> [String: GuestImage] {
        let url = URL(fileURLWithPath: directory)
        var images: [String: GuestImage] = [:]
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for file in files.sorted() where file.hasSuffix(".json") {
            var image = try JSONDecoder().decode(GuestImage.self,
                                                 from: Data(contentsOf: url.appendingPathComponent(file)))
            func absolute(_ path: String?) -> String? {
                path.map { $0.hasPrefix("/") ? $0 : url.appendingPathComponent($0).path }
            }
            image.kernel = absolute(image.kernel)
            image.initrd = absolute(image.initrd)
            image.disk = absolute(image.disk)
            images[image.name] = image
        }
        return images
    }
}

import VMI

/// The naming and size rules VEE specs follow, applied to manifests.
enum VEENames {
    static func isValid(_ name: String) -> Bool { VEESpec.isValidName(name) }
}

enum VEESpecLimits {
    static let maxCPUs = VEESpec.maxCPUs
    static let memoryMiB = VEESpec.memoryMiBRange
    static let maxDiskGiB = VEESpec.maxDiskGiB
}

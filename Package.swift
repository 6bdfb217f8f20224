// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "veem",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "veem-agent", targets: ["veem-agent"]),
        .executable(name: "veem-coordinator", targets: ["veem-coordinator"]),
        .executable(name: "veemctl", targets: ["veemctl"]),
        .executable(name: "veem-ec2", targets: ["veem-ec2"]),
        .executable(name: "veem-bench", targets: ["veem-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // The only two modules that import C.
        .systemLibrary(name: "CLibvirt", pkgConfig: "libvirt", providers: [.apt(["libvirt-dev"])]),
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),

        .target(name: "BlockingIO"),
        .target(name: "VMI"),
        .target(name: "Placement", dependencies: ["VMI"]),
        .target(name: "Manifest", dependencies: ["VMI", .product(name: "Yams", package: "Yams")]),
        // The EC2 Query API's wire: SigV4, forms, XML. Pure.
        .target(name: "EC2", dependencies: ["VMI", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Hypervisor", dependencies: [
            "CLibvirt", "BlockingIO", "VMI", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Messaging", dependencies: [
            "CRabbitMQ", "BlockingIO", "VMI", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Inventory", dependencies: ["VMI", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "Daemon", dependencies: [
            "Messaging",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The instance metadata service (EC2's IMDS and veem's probe path), one listener per network of a host.
        .target(name: "InstanceMetadata", dependencies: [
            "VMI", .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .target(name: "Agent", dependencies: [
            "VMI", "Hypervisor", "Messaging", "Daemon", "EC2", "InstanceMetadata",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The EC2 resource model and actions (accounts, images, instances as VEEs, key pairs, groups, addresses,
        // volumes, tags) over an inventory transaction; the coordinator runs them.
        .target(name: "Cloud", dependencies: [
            "EC2", "Inventory", "VMI", "Placement",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        .target(name: "Coordinator", dependencies: [
            "VMI", "Messaging", "Inventory", "Placement", "Manifest", "Daemon", "Cloud", "EC2",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "VeemClient", dependencies: ["VMI", "Messaging"]),
        // The HTTP side of the EC2 Query API: stateless, forwards each signed call to the coordinator.
        .target(name: "EC2Gateway", dependencies: [
            "EC2", "VMI", "VeemClient", "Messaging", "Daemon",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Harness for tests and benchmarks: fresh vhosts, in-process coordinator and agents.
        .target(name: "PropertyTesting"),
        .target(name: "VeemTestSupport", dependencies: [
            "Agent", "Coordinator", "EC2Gateway", "Cloud", "VeemClient", "Hypervisor", "Messaging", "Inventory", "VMI",
        ]),

        .executableTarget(name: "veem-agent", dependencies: [
            "Agent", "Daemon", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "veem-coordinator", dependencies: [
            "Coordinator", "Daemon", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "veem-ec2", dependencies: [
            "EC2Gateway", "Daemon", "VeemClient", "Messaging",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "veemctl", dependencies: [
            "VeemClient", "VMI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "veem-bench", dependencies: [
            "VeemTestSupport", "Agent", "Coordinator", "VeemClient", "Hypervisor", "Messaging", "VMI", "Placement",
            "Manifest", "EC2", "Cloud", "EC2Gateway", "InstanceMetadata",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .testTarget(name: "VMITests", dependencies: ["VMI"], resources: [.copy("Fixtures")]),
        .testTarget(name: "InventoryTests", dependencies: ["Inventory", "VMI", "PropertyTesting"]),
        .testTarget(name: "ManifestTests", dependencies: ["Manifest", "VMI"]),
        .testTarget(name: "PlacementTests", dependencies: ["Placement", "VMI", "PropertyTesting"]),
        .testTarget(name: "CoordinatorTests", dependencies: ["Coordinator", "Placement", "Daemon", "Inventory", "VMI"]),
        .testTarget(name: "EC2Tests", dependencies: ["EC2"]),
        .testTarget(name: "CloudTests", dependencies: ["Cloud", "EC2", "Inventory", "VMI"]),
        .testTarget(name: "DaemonTests", dependencies: ["Daemon"]),
        .testTarget(name: "MessagingTests", dependencies: ["Messaging", "VeemTestSupport"]),
        .testTarget(name: "HypervisorTests", dependencies: ["Hypervisor", "VMI"]),
        .testTarget(name: "AgentTests", dependencies: ["Agent", "VMI"]),
        .testTarget(name: "InstanceMetadataTests", dependencies: [
            "InstanceMetadata", "VMI", .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "VeemTestSupport", "EC2Gateway", "Cloud", "EC2", "Agent", "Coordinator", "VeemClient", "Hypervisor", "Messaging", "Inventory", "VMI",
        ]),
        .testTarget(name: "SystemTests", dependencies: [
            "VeemTestSupport", "Agent", "Coordinator", "VeemClient", "Hypervisor", "Messaging", "Inventory", "VMI",
            "PropertyTesting",
        ]),
    ],
    swiftLanguageModes: [.v6]
)

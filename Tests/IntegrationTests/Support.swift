import Foundation
import Hypervisor
import VeemTestSupport
import VMI

/// Runs `body` against a fresh site (own vhost, own database) and always tears it down.
/// Heartbeats every second: shorter ones flap hosts DOWN while the suite's TCG guest loads both cores.
func withSite<T>(_ body: (SiteHarness) async throws -> T) async throws -> T {
    try await SiteHarness.with(body)
}

/// A host id no other test uses (the test:///default hypervisor is shared by the whole process).
func uniqueHost(_ prefix: String = "h") -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

/// libvirt's shared in-process test hypervisor (16 CPUs, 3 GiB per libvirt).
func sharedTestDriver() async throws -> LibvirtDriver {
    try await LibvirtDriver.open(uri: "test:///default",
                                 diskDirectory: NSTemporaryDirectory() + "veem-it-disks")
}

/// A test hypervisor of its own: 8 CPUs, 4 GiB, no domains.
func privateTestDriver() async throws -> LibvirtDriver {
    try await LibvirtDriver.open(uri: try TestNode.uri(cpus: 8, memoryMiB: 4096),
                                 diskDirectory: NSTemporaryDirectory() + "veem-it-disks")
}

func vee(_ name: String, memoryMiB: Int = 64, cpus: Int = 1) -> VEESpec {
    VEESpec(name: name, cpus: cpus, memoryMiB: memoryMiB, diskGiB: 1, image: "tiny")
}

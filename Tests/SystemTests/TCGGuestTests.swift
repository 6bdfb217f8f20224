import Foundation
import Hypervisor
import Testing
import VeemTestSupport
import VMI

/// A real guest on qemu:///system (TCG here: nested KVM does not boot), built by Packaging/build-tiny-guest.sh.
/// Booted means its console marker, not libvirt's "running".
@Suite struct TCGGuestTests {
    /// Where the tiny guest was built (`VEEM_IMAGE_DIR`, default /var/lib/veem/images).
    static let imageDirectory = ProcessInfo.processInfo.environment["VEEM_IMAGE_DIR"] ?? "/var/lib/veem/images"

    @Test func aGuestWalksEveryControlState() async throws {
        let images = try GuestImage.catalogue(in: Self.imageDirectory)
        let tiny = try #require(images["tiny"], "run Packaging/build-tiny-guest.sh \(Self.imageDirectory) first")
        try await SiteHarness.with(label: "system", images: [tiny]) { try await walk($0) }
    }

    func walk(_ site: SiteHarness) async throws {
        let driver = try await LibvirtDriver.open(uri: "qemu:///system", diskDirectory: site.directory + "/disks")
        do {
            try await walk(site, driver)
            try await driver.removePool()
        } catch {
            try? await driver.removePool()
            throw error
        }
    }

    func walk(_ site: SiteHarness, _ driver: LibvirtDriver) async throws {
        let host = "tcg-\(UUID().uuidString.prefix(6).lowercased())"
        try await site.startCoordinator(shutdownTimeout: .seconds(30))
        try await site.startAgent(host, driver: driver, bootTimeout: .seconds(90))
        let registered = try await site.client.site().hosts.first { $0.id == host }
        // "auto" probed KVM by booting a guest: kvm only if it really boots, otherwise TCG.
        #expect(["kvm", "qemu"].contains(registered?.domainType ?? ""))

        let vee = try await site.client.initialize(VEESpec(name: "tcg1", cpus: 1, memoryMiB: 128, diskGiB: 1,
                                                           image: "tiny"))
        try await site.expect(vee, .defined)
        #expect(try await driver.status(of: vee.id) == .shutoff(managedSave: false))
        let console = site.consolePath(host: host, vee: vee.id)
        func bootMarkers() -> Int {
            ((try? String(contentsOfFile: console, encoding: .utf8)) ?? "")
                .components(separatedBy: "VEEM-GUEST-BOOTED").count - 1
        }

        _ = try await site.client.update(vee.id, .activate)
        try await site.expect(vee, .active, timeout: .seconds(120))
        #expect(bootMarkers() == 1, "ACTIVE only once the guest printed its marker")
        #expect(try await driver.status(of: vee.id) == .running)

        _ = try await site.client.update(vee.id, .pause)
        try await site.expect(vee, .paused)
        #expect(try await driver.status(of: vee.id) == .paused)
        _ = try await site.client.update(vee.id, .activate)
        try await site.expect(vee, .active)

        _ = try await site.client.update(vee.id, .suspend)
        try await site.expect(vee, .suspended, timeout: .seconds(60))
        #expect(try await driver.status(of: vee.id) == .shutoff(managedSave: true))
        _ = try await site.client.update(vee.id, .activate)
        try await site.expect(vee, .active, timeout: .seconds(60))
        #expect(bootMarkers() == 1, "restored from the managed save, not booted again")

        _ = try await site.client.update(vee.id, .shutdown)
        try await site.expect(vee, .defined, timeout: .seconds(60))
        let text = (try? String(contentsOfFile: console, encoding: .utf8)) ?? ""
        #expect(text.contains("VEEM-GUEST-POWEROFF"), "the guest powered off by itself on the ACPI button")
        #expect(try await driver.status(of: vee.id) == .shutoff(managedSave: false))

        _ = try await site.client.update(vee.id, .destroy)
        try await site.expect(vee, .destroyed, timeout: .seconds(60))
        #expect(try await driver.status(of: vee.id) == nil)
        #expect(!FileManager.default.fileExists(atPath: console))
    }
}

import Foundation
import Hypervisor
import Logging
import VMI

/// Finds the domain type this host really boots. libvirt may offer `kvm` where nested KVM starts a domain that never
/// boots, so KVM counts only when a probe guest shows its console marker; otherwise TCG (`qemu`). The verdict is
/// cached per boot of the host and libvirt version.
struct DomainTypeProbe {
    let driver: any HypervisorDriver
    let images: [String: GuestImage]
    let console: ConsoleWatcher
    let cacheFile: String
    let logger: Logger
    var timeout: Duration = .seconds(20)

    func choose(configured: String, facts: HostFacts) async -> String {
        if configured != "auto" { return configured }
        if facts.domainTypes.contains("test") { return "test" }
        guard facts.domainTypes.contains("kvm") else { return "qemu" }
        let bootId = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
        let key = "\(bootId) \(facts.driver) \(facts.version)"
        if let cached = try? String(contentsOfFile: cacheFile, encoding: .utf8),
           let line = cached.split(separator: "\n").first, line.hasPrefix(key + " ") {
            return String(line.dropFirst(key.count + 1))
        }
        guard let image = images.values.sorted(by: { $0.name < $1.name })
            .first(where: { $0.bootMarker != nil && $0.kernel != nil })
        else {
            logger.warning("no image with a boot marker to probe KVM with; using TCG (qemu)")
            return "qemu"
        }
        let verdict = await probe(image) ? "kvm" : "qemu"
        logger.info("domain type probe", metadata: ["kvm-boots": "\(verdict == "kvm")"])
        try? "\(key) \(verdict)\n".write(toFile: cacheFile, atomically: true, encoding: .utf8)
        return verdict
    }

    /// Boots `image` as an unowned throwaway domain with type kvm and waits for its marker.
    private func probe(_ image: GuestImage) async -> Bool {
        let vee = UUID().uuidString.lowercased()
        let spec = VEESpec(name: "veem-kvm-probe", cpus: 1, memoryMiB: 128, diskGiB: 0, image: image.name)
        // An empty host id: no agent ever adopts it.
        let record = DomainRecord(vee: vee, host: "", spec: spec, desired: .active, generation: 0)
        let xml = DomainXML.domain(record: record, domainType: "kvm", image: image, diskPath: nil,
                                   consolePath: console.path(for: vee))
        console.reset(vee)
        defer { console.remove(vee) }
        do {
            try await driver.define(xml: xml)
            try await driver.start(vee)
        } catch {
            try? await driver.undefine(vee)
            return false
        }
        let driver = self.driver
        let booted = await console.waitForMarker(image.bootMarker ?? "", vee: vee, timeout: timeout) {
            (try? await driver.status(of: vee)) == .running
        }
        try? await driver.powerOff(vee)
        try? await driver.undefine(vee)
        return booted
    }
}

import Foundation
import Hypervisor
import Testing
import VeemTestSupport

/// The qemu:///system host of a shipped site (agent `tcg1`): boots the tiny guest through veemctl and looks at the
/// result from outside, with virsh and the guest's serial console; removes its domains and pool afterwards.
struct TCGHost {
    let site: ShippedSite
    var host = "tcg1"
    private let booted = Booted()

    init(site: ShippedSite) { self.site = site }

    /// Submits one VEE of image `tiny` (only this host offers it), activates it, and returns its id once ACTIVE.
    func boot(tiny: GuestImage) async throws -> String {
        let file = site.directory + "/tcg-guest.json"
        try #"{"vees": [{"name": "tcg-guest", "cpus": 1, "memoryMiB": 128, "diskGiB": 1, "image": "tiny"}]}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let output = try await site.veemctl("submit", file, "--activate", "--timeout", "180")
        let row = try #require(VeemctlTable.rows(output).first { $0.first == "tcg-guest" }, "\(output)")
        let id = row[1]
        booted.add(id)
        let vees = VeemctlTable.rows(try await site.veemctl("vees"))
        let view = try #require(vees.first { $0[1] == id })
        #expect(view[2] == host && view[7] == "ACTIVE" && view[8] == "ACTIVE", "\(view)")
        return id
    }

    func consolePath(_ vee: String) -> String { "\(site.directory)/\(host)/consoles/\(vee).log" }

    /// Takes a VEE made elsewhere (an EC2 instance) into the clean-up.
    func adopt(_ vee: String) { booted.add(vee) }

    /// The guest's serial console so far.
    func console(_ vee: String) -> String {
        String(decoding: FileManager.default.contents(atPath: consolePath(vee)) ?? Data(), as: UTF8.self)
    }

    /// How many times the guest printed its boot marker.
    func bootMarkers(_ vee: String) -> Int { console(vee).components(separatedBy: "VEEM-GUEST-BOOTED").count - 1 }

    /// `virsh domstate` of the VEE's domain.
    func state(_ vee: String) async throws -> String {
        try await virsh("domstate", DomainXML.domainName(vee)).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// How many domains libvirt has under the VEE's name.
    func domainCount(_ vee: String) async throws -> Int {
        try await virsh("list", "--all", "--name").output.split(separator: "\n")
            .filter { $0 == DomainXML.domainName(vee) }.count
    }

    func cleanUp() async {
        for vee in booted.all {
            _ = try? await virsh("destroy", DomainXML.domainName(vee))
            _ = try? await virsh("undefine", "--managed-save", "--nvram", DomainXML.domainName(vee))
        }
        let pool = LibvirtDriver.poolName(for: "\(site.directory)/\(host)/disks")
        _ = try? await virsh("pool-destroy", pool)
        _ = try? await virsh("pool-undefine", pool)
    }

    @discardableResult
    private func virsh(_ arguments: String...) async throws -> ExternalCommand.Result {
        try await ExternalCommand.run("/usr/bin/virsh", ["-q", "-c", "qemu:///system"] + arguments)
    }

    /// The VEEs booted, for clean-up.
    final class Booted: @unchecked Sendable {
        private let lock = NSLock()
        private var ids: [String] = []
        func add(_ id: String) { lock.withLock { ids.append(id) } }
        var all: [String] { lock.withLock { ids } }
    }
}

/// The rows of a veemctl table: columns are separated by two or more spaces; the header row is dropped.
enum VeemctlTable {
    static func rows(_ table: String) -> [[String]] {
        table.split(separator: "\n").dropFirst().map { line in
            line.split(separator: "  ", omittingEmptySubsequences: true)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }
}

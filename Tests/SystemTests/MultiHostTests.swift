import Foundation
import Testing
import VeemTestSupport

/// A site across hosts of the testbed (`TestbedSite`). VEEs spread over the hosts boot as TCG guests, each on the
/// libvirtd of the host it was placed on.
@Suite(.serialized) struct MultiHostTests {
    @Test func aSiteSpansTheTestbedsHostsOverTheManagementNetwork() async throws {
        try await TestbedSite.with(hosts: 2, label: "testbed") { site, testbed, port in
            try await TestbedSite.start(site, testbed: testbed, port: port)
            try await run(site, testbed: testbed)
        }
    }

    func run(_ site: ShippedSite, testbed: Testbed) async throws {
        let file = site.directory + "/two.json"
        try #"{"vees": [{"name": "a1", "cpus": 1, "memoryMiB": 128, "diskGiB": 0, "image": "tiny"}, {"name": "a2", "cpus": 1, "memoryMiB": 128, "diskGiB": 0, "image": "tiny"}]}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        try await site.veemctl("submit", file, "--activate", "--wait", "--timeout", "180")
        let vees = VeemctlTable.rows(try await site.veemctl("vees"))
        let placed = Dictionary(uniqueKeysWithValues: vees.filter { ["a1", "a2"].contains($0[0]) }.map { ($0[1], $0[2]) })
        #expect(Set(placed.values) == Set(testbed.hosts), "spread over both hosts: \(vees)")
        for (vee, host) in placed {
            // On the libvirtd of the host it was placed on, and on no other.
            for other in testbed.hosts {
                let names = try await ExternalCommand.run("/usr/bin/virsh", ["-q", "-c", testbed.libvirtURI(other),
                                                                           "list", "--name"])
                #expect(names.output.contains("veem-\(vee)") == (other == host), "\(vee) on \(other): \(names.output)")
            }
            #expect(TestbedSite.console(site, host: host, vee: vee).contains("VEEM-GUEST-BOOTED"), "\(vee) booted on \(host)")
        }
        print("multi-host: \(placed.count) TCG guests booted on \(Set(placed.values).sorted()) of the testbed")
        try await site.veemctl("update", "a1", "destroy", "--wait", "--timeout", "60")
        try await site.veemctl("update", "a2", "destroy", "--wait", "--timeout", "60")
    }
}

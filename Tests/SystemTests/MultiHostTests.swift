import Foundation
import Testing
import VeemTestSupport

/// A site across hosts of the testbed, as it runs on real compute nodes: the broker and the coordinator in the
/// control node, a `veem-agent` in each host with that host's own libvirtd, everything over the management network.
/// VEEs spread over the hosts boot as TCG guests, each on the libvirtd of the host it was placed on.
@Suite(.serialized) struct MultiHostTests {
    static let imageDirectory = ProcessInfo.processInfo.environment["VEEM_IMAGE_DIR"] ?? "/var/lib/veem/images"

    @Test func aSiteSpansTheTestbedsHostsOverTheManagementNetwork() async throws {
        try await Testbed.with(hosts: 2) { testbed in
            let node = try await PrivateBroker.start(launcher: testbed.launcher("ctl"), address: Testbed.controlAddress)
            do {
                try await ShippedSite.with(label: "testbed", on: node) { site in
                    try await run(site, testbed: testbed, port: node.port)
                }
                await node.shutdown()
            } catch {
                await node.shutdown()
                throw error
            }
        }
    }

    func run(_ site: ShippedSite, testbed: Testbed, port: Int) async throws {
        let url = "amqp://guest:guest@\(Testbed.controlAddress):\(port)/\(site.broker.vhost)"
        try await site.start("veem-coordinator", name: "coordinator", settings: [
            "VEEM_SITE": "site1", "VEEM_DATABASE": site.directory + "/coordinator.sqlite", "VEEM_AMQP_URL": url,
            "VEEM_HEARTBEAT_SECONDS": "1", "VEEM_PLACEMENT_WEIGHER": "spread",
        ], launcher: testbed.launcher("ctl"))
        for host in testbed.hosts {
            // qemu:///system inside the host's mount namespace is that host's own libvirtd.
            try await site.start("veem-agent", name: host, settings: [
                "VEEM_HOST": host, "VEEM_LIBVIRT_URI": "qemu:///system", "VEEM_DOMAIN_TYPE": "qemu",
                "VEEM_IMAGE_DIR": Self.imageDirectory, "VEEM_STATE_DIR": "\(site.directory)/\(host)",
                "VEEM_AMQP_URL": url, "VEEM_HEARTBEAT_SECONDS": "1", "VEEM_BOOT_TIMEOUT_SECONDS": "120",
            ], launcher: testbed.launcher(host))
        }
        site.veemctlURL = url
        site.veemctlLauncher = testbed.launcher("ctl")
        let up = try await eventually(timeout: .seconds(30)) {
            let rows = VeemctlTable.rows(try await site.veemctl("hosts"))
            return testbed.hosts.allSatisfy { host in rows.contains { $0[0] == host && $0[2] == "UP" } }
        }
        try #require(up, "every host registered over the management network")

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
            let console = (try? String(contentsOfFile: "\(site.directory)/\(host)/consoles/\(vee).log",
                                       encoding: .utf8)) ?? ""
            #expect(console.contains("VEEM-GUEST-BOOTED"), "\(vee) booted on \(host)")
        }
        print("multi-host: \(placed.count) TCG guests booted on \(Set(placed.values).sorted()) of the testbed")
        try await site.veemctl("update", "a1", "destroy", "--wait", "--timeout", "60")
        try await site.veemctl("update", "a2", "destroy", "--wait", "--timeout", "60")
    }
}

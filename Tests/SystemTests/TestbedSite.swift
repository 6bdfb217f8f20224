import Foundation
import Testing
import VeemTestSupport

/// A site across the testbed as it runs on real compute nodes: a broker and the coordinator in the control node, a
/// `veem-agent` in each host on that host's own libvirtd, everything over the management network.
enum TestbedSite {
    static let imageDirectory = ProcessInfo.processInfo.environment["VEEM_IMAGE_DIR"] ?? "/var/lib/veem/images"

    /// Runs `body` on a fresh testbed of `hosts` hosts with a broker of its own in the control node; everything is
    /// torn down whether `body` returns or throws.
    static func with(hosts: Int, label: String,
                     _ body: (ShippedSite, Testbed, _ port: Int) async throws -> Void) async throws {
        try await Testbed.with(hosts: hosts) { testbed in
            let node = try await PrivateBroker.start(launcher: testbed.launcher("ctl"), address: Testbed.controlAddress)
            do {
                try await ShippedSite.with(label: label, on: node) { site in try await body(site, testbed, node.port) }
                await node.shutdown()
            } catch {
                await node.shutdown()
                throw error
            }
        }
    }

    /// The settings of the agent of `host`; `networks`: it wires VEEs' networks over the testbed's underlay.
    static func agentSettings(_ host: String, site: ShippedSite, testbed: Testbed, url: String,
                              networks: Bool) -> [String: String] {
        var settings = [
            "VEEM_HOST": host, "VEEM_LIBVIRT_URI": "qemu:///system", "VEEM_DOMAIN_TYPE": "qemu",
            "VEEM_IMAGE_DIR": imageDirectory, "VEEM_STATE_DIR": "\(site.directory)/\(host)",
            "VEEM_AMQP_URL": url, "VEEM_HEARTBEAT_SECONDS": "1", "VEEM_BOOT_TIMEOUT_SECONDS": "120",
        ]
        if networks {
            settings["VEEM_UNDERLAY_ADDRESS"] = testbed.underlayAddress(host)
            settings["VEEM_NETWORK_DIR"] = "\(site.directory)/\(host)/networks"
            settings["VEEM_LOG_LEVEL"] = "debug"
        }
        return settings
    }

    /// Starts the coordinator in the control node and an agent in each host, and waits until every host is UP.
    /// Returns the broker URL, which veemctl (run in the control node) uses too.
    @discardableResult
    static func start(_ site: ShippedSite, testbed: Testbed, port: Int, networks: Bool = false,
                      coordinator extra: [String: String] = [:]) async throws -> String {
        let url = "amqp://guest:guest@\(Testbed.controlAddress):\(port)/\(site.broker.vhost)"
        try await site.start("veem-coordinator", name: "coordinator", settings: [
            "VEEM_SITE": "site1", "VEEM_DATABASE": site.directory + "/coordinator.sqlite", "VEEM_AMQP_URL": url,
            "VEEM_HEARTBEAT_SECONDS": "1", "VEEM_PLACEMENT_WEIGHER": "spread",
        ].merging(extra) { $1 }, launcher: testbed.launcher("ctl"))
        for host in testbed.hosts {
            // qemu:///system inside the host's mount namespace is that host's own libvirtd.
            try await site.start("veem-agent", name: host,
                                 settings: agentSettings(host, site: site, testbed: testbed, url: url,
                                                         networks: networks),
                                 launcher: testbed.launcher(host))
        }
        site.veemctlURL = url
        site.veemctlLauncher = testbed.launcher("ctl")
        let up = try await eventually(timeout: .seconds(30)) {
            let rows = VeemctlTable.rows(try await site.veemctl("hosts"))
            return testbed.hosts.allSatisfy { host in rows.contains { $0[0] == host && $0[2] == "UP" } }
        }
        try #require(up, "every host registered over the management network")
        return url
    }

    /// The serial console of a VEE (by id) on the host it runs on.
    static func console(_ site: ShippedSite, host: String, vee: String) -> String {
        (try? String(contentsOfFile: "\(site.directory)/\(host)/consoles/\(vee).log", encoding: .utf8)) ?? ""
    }
}

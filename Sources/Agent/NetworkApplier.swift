import Foundation
import VMI

/// Reads what the host has of veem's networks and carries out `NetworkStep`s with the host's own tools: `ip` and
/// `bridge` (iproute2), `nft` and `dnsmasq`. Each network keeps its DHCP server's files in `directory/<vni>/`.
struct NetworkApplier: Sendable {
    let directory: String
    /// The MTU of every network's devices and interfaces: the underlay's less VXLAN's 50 bytes.
    let mtu: Int
    let commands: HostCommands
    /// Whether guests are given a route to the metadata service (DHCP option 121).
    var metadata = false

    func networkDirectory(_ vni: Int) -> String { "\(directory)/\(vni)" }
    func pidFile(_ vni: Int) -> String { "\(networkDirectory(vni))/dnsmasq.pid" }
    func hostsFile(_ vni: Int) -> String { "\(networkDirectory(vni))/hosts" }

    // MARK: Observing

    func observe(ruleset: String?) async throws -> ObservedNetworks {
        var observed = ObservedNetworks(ruleset: ruleset)
        let links = try await commands.run(["ip", "-j", "-d", "addr", "show"])
        let parsed = (try? JSONSerialization.jsonObject(with: Data(links.utf8))) as? [[String: Any]] ?? []
        for link in parsed {
            guard let name = link["ifname"] as? String else { continue }
            let flags = link["flags"] as? [String] ?? []
            let info = link["linkinfo"] as? [String: Any]
            if let vni = NetworkNames.vni(in: name, prefix: NetworkNames.bridgePrefix) {
                var network = observed.networks[vni] ?? .init()
                network.bridge = true
                network.bridgeUp = flags.contains("UP")
                network.bridgeMAC = link["address"] as? String
                for address in link["addr_info"] as? [[String: Any]] ?? [] where address["family"] as? String == "inet" {
                    if let local = address["local"] as? String, let length = address["prefixlen"] as? Int {
                        network.bridgeAddresses.insert("\(local)/\(length)")
                    }
                }
                observed.networks[vni] = network
            } else if let vni = NetworkNames.vni(in: name, prefix: NetworkNames.vxlanPrefix) {
                var network = observed.networks[vni] ?? .init()
                network.vxlan = true
                network.vxlanUp = flags.contains("UP")
                network.vxlanAttached = link["master"] as? String == NetworkNames.bridge(vni)
                network.vxlanLocal = (info?["info_data"] as? [String: Any])?["local"] as? String
                observed.networks[vni] = network
            }
        }
        for vni in observed.networks.keys where observed.networks[vni]!.vxlan {
            let fdb = try await commands.run(["bridge", "-j", "fdb", "show", "dev", NetworkNames.vxlan(vni)])
            let entries = (try? JSONSerialization.jsonObject(with: Data(fdb.utf8))) as? [[String: Any]] ?? []
            observed.networks[vni]!.floods = Set(entries.compactMap { entry in
                entry["mac"] as? String == "00:00:00:00:00:00" ? entry["dst"] as? String : nil
            })
        }
        // DHCP servers and lease files, including those of networks whose devices are gone.
        let directories = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for vni in directories.compactMap(Int.init) {
            var network = observed.networks[vni] ?? .init()
            network.hostsFile = try? String(contentsOfFile: hostsFile(vni), encoding: .utf8)
            network.dnsmasqRunning = dnsmasqPID(vni) != nil
            network.dnsmasqCurrent = dnsmasqArguments(vni).map { running in
                running.contains { $0.hasPrefix(Self.metadataRouteOption) } == metadata
            } ?? true
            observed.networks[vni] = network
        }
        return observed
    }

    /// The arguments the network's running dnsmasq was started with.
    func dnsmasqArguments(_ vni: Int) -> [String]? {
        guard let pid = dnsmasqPID(vni), let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
        else { return nil }
        return String(decoding: cmdline, as: UTF8.self).split(separator: "\0").map(String.init)
    }

    static let metadataRouteOption = "--dhcp-option=option:classless-static-route,\(NetworkPlan.metadataAddress)/32,"

    /// The network's dnsmasq, when its pid file names a live dnsmasq serving that network's bridge.
    func dnsmasqPID(_ vni: Int) -> Int32? {
        guard let text = try? String(contentsOfFile: pidFile(vni), encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
              String(decoding: cmdline, as: UTF8.self).contains("--interface=\(NetworkNames.bridge(vni))\0")
        else { return nil }
        return pid
    }

    // MARK: Applying

    func apply(_ step: NetworkStep) async throws {
        switch step {
        case .createBridge(let vni, let mac):
            let bridge = NetworkNames.bridge(vni)
            try await commands.run(["ip", "link", "add", "name", bridge, "address", mac, "mtu", "\(mtu)",
                                    "type", "bridge", "stp_state", "0"])
            // The gateway's MAC is the same on every host: so would be its IPv6 link-local address.
            try await commands.run(["ip", "link", "set", "dev", bridge, "addrgenmode", "none"])
        case .addBridgeAddress(let vni, let address):
            try await commands.run(["ip", "addr", "add", address, "dev", NetworkNames.bridge(vni)])
        case .removeBridgeAddress(let vni, let address):
            try await commands.run(["ip", "addr", "del", address, "dev", NetworkNames.bridge(vni)])
        case .setBridgeUp(let vni):
            try await commands.run(["ip", "link", "set", "dev", NetworkNames.bridge(vni), "up"])
        case .createVXLAN(let vni, let local):
            let vxlan = NetworkNames.vxlan(vni)
            try await commands.run(["ip", "link", "add", "name", vxlan, "mtu", "\(mtu)", "type", "vxlan", "id",
                                    "\(vni)", "local", local, "dstport", "4789"])
            try await commands.run(["ip", "link", "set", "dev", vxlan, "addrgenmode", "none"])
        case .removeVXLAN(let vni):
            try await commands.run(["ip", "link", "del", "dev", NetworkNames.vxlan(vni)])
        case .attachVXLAN(let vni):
            try await commands.run(["ip", "link", "set", "dev", NetworkNames.vxlan(vni), "master",
                                    NetworkNames.bridge(vni), "up"])
        case .addFlood(let vni, let peer):
            try await commands.run(["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", NetworkNames.vxlan(vni),
                                    "dst", peer])
        case .removeFlood(let vni, let peer):
            try await commands.run(["bridge", "fdb", "del", "00:00:00:00:00:00", "dev", NetworkNames.vxlan(vni),
                                    "dst", peer])
        case .writeLeases(let vni, let text):
            try FileManager.default.createDirectory(atPath: networkDirectory(vni), withIntermediateDirectories: true)
            // dnsmasq reads it as nobody.
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: networkDirectory(vni))
            try Data(text.utf8).write(to: URL(fileURLWithPath: hostsFile(vni)), options: .atomic)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: hostsFile(vni))
        case .startDHCP(let vni, let subnet):
            try await startDHCP(vni, subnet: subnet)
        case .reloadDHCP(let vni, let subnet):
            try await reloadDHCP(vni, subnet: subnet)
        case .stopDHCP(let vni):
            try await stopDNSMasq(vni)
            try? FileManager.default.removeItem(atPath: networkDirectory(vni))
        case .removeBridge(let vni):
            try await commands.run(["ip", "link", "del", "dev", NetworkNames.bridge(vni)])
        case .loadRuleset(let text):
            // Security groups filter bridged traffic in the inet hooks: the host must pass it through them (the
            // kernel's default, which an operator may have turned off).
            try await commands.run(["sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1"])
            // One transaction: both tables are replaced whole, or nothing changes.
            try await commands.run(["nft", "-f", "-"], stdin: text)
        }
    }

    /// One dnsmasq per network: static leases only (a MAC it was not told of gets nothing), forever (a guest
    /// never needs this server again once it has its address), no DNS, no router: the network is an isolated LAN.
    private func startDHCP(_ vni: Int, subnet: IPv4Network) async throws {
        let folder = networkDirectory(vni)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: pidFile(vni))
        // The metadata service's route, by way of the gateway (RFC 3442), as Neutron gives it.
        let route = metadata ? ["\(Self.metadataRouteOption)\(subnet.host(1)!)"] : []
        try await commands.start([
            "dnsmasq", "--conf-file=/dev/null", "--pid-file=\(pidFile(vni))",
            "--interface=\(NetworkNames.bridge(vni))", "--bind-interfaces", "--except-interface=lo", "--port=0",
            "--dhcp-range=\(subnet.address),static,\(subnet.mask),infinite", "--dhcp-hostsfile=\(hostsFile(vni))",
            "--leasefile-ro", "--dhcp-authoritative", "--dhcp-option=option:router", "--dhcp-option=option:dns-server",
            "--dhcp-option=option:mtu,\(mtu)", "--user=nobody", "--group=nogroup",
            "--log-facility=\(log(vni))",
        ] + route, log: "\(folder)/dnsmasq.start")
        // Ready once it has read its leases: until then it ignores SIGHUP, and a reload would be lost.
        guard try await awaitReads(vni, moreThan: 0) else {
            throw HostCommandError(command: ["dnsmasq", "--interface=\(NetworkNames.bridge(vni))"], status: 0,
                                   output: "started but did not read \(hostsFile(vni)) within 5 s")
        }
    }

    func log(_ vni: Int) -> String { "\(networkDirectory(vni))/dnsmasq.log" }

    /// How often dnsmasq says it has read the network's leases (at its start, and after each SIGHUP).
    private func reads(_ vni: Int) -> Int {
        let text = (try? String(contentsOfFile: log(vni), encoding: .utf8)) ?? ""
        return text.components(separatedBy: "read \(hostsFile(vni))").count - 1
    }

    private func awaitReads(_ vni: Int, moreThan count: Int, timeout: Duration = .seconds(5)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if reads(vni) > count { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// dnsmasq re-reads --dhcp-hostsfile on SIGHUP; its log says when it has. One that does not (it was started
    /// with SIGHUP blocked, by an older agent) is started again: its leases are static, so no guest loses one.
    private func reloadDHCP(_ vni: Int, subnet: IPv4Network) async throws {
        let before = reads(vni)
        for _ in 0..<3 {
            guard let pid = dnsmasqPID(vni) else { break }
            kill(pid, SIGHUP)
            if try await awaitReads(vni, moreThan: before, timeout: .milliseconds(500)) { return }
        }
        try await stopDNSMasq(vni)
        try await startDHCP(vni, subnet: subnet)
    }

    private func stopDNSMasq(_ vni: Int) async throws {
        guard let pid = dnsmasqPID(vni) else { return }
        kill(pid, SIGTERM)
        for _ in 0..<100 where dnsmasqPID(vni) != nil { try await Task.sleep(for: .milliseconds(20)) }
        if dnsmasqPID(vni) != nil { kill(pid, SIGKILL) }
    }
}

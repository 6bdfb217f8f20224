import Agent
import ArgumentParser
import Foundation
import InstanceMetadata
import Logging
import VMI

/// What wiring a VEE's network adds to its define and boot: the agent's pass before the domain starts, on a host's
/// real tools (ip, bridge, nft, dnsmasq), in a network namespace of its own.
struct NetworkBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "networks",
        abstract: "Network setup per VEE: the first member of a network on a host (bridge, VXLAN, DHCP server, "
            + "ruleset) and each further one (its lease), in a throwaway network namespace.")

    @Option(help: "Networks, each made by its first member.") var networks = 20
    @Option(help: "Further members per network.") var members = 5
    @Flag(help: "Run inside the namespace already (set by the outer run).") var inside = false

    func run() async throws {
        guard inside else { return try runInNamespace() }
        let directory = NSTemporaryDirectory() + "veem-bench-networks-\(getpid())"
        let networking = HostNetworking(underlay: "10.78.0.11", directory: directory, mtu: 1450,
                                        logger: Logger(label: "bench"))
        var first: [Duration] = [], further: [Duration] = [], removal: [Duration] = []
        let clock = ContinuousClock()
        var vees: [String] = []
        for network in 0..<networks {
            for member in 0...members {
                let vee = "n\(network)-m\(member)"
                let interface = VEEInterface(network: "RED", vni: 1000 + network,
                                             mac: String(format: "52:54:00:%02x:%02x:%02x", network, member, 1),
                                             address: "10.\(10 + network).0.\(10 + member)",
                                             subnet: "10.\(10 + network).0.0/24")
                let start = clock.now
                try await networking.attach(MetadataGuest(vee: vee, name: vee, zone: "default", interfaces: [interface],
                                                          context: nil))
                (member == 0 ? { first.append(clock.now - start) } : { further.append(clock.now - start) })()
                vees.append(vee)
            }
            try await networking.setPeers(HostNetworks(host: "bench", generation: network, networks: (0...network)
                .map { NetworkPeers(vni: 1000 + $0, peers: ["10.78.0.12", "10.78.0.13"]) }))
        }
        for vee in vees.reversed() {
            let start = clock.now
            try await networking.detach(vee)
            removal.append(clock.now - start)
        }
        try? FileManager.default.removeItem(atPath: directory)
        func ms(_ values: [Duration], _ q: Double) -> String {
            let sorted = values.sorted()
            let d = sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
            return String(format: "%.1f ms", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
        }
        print("| attach | count | p50 | p99 |")
        print("| --- | --- | --- | --- |")
        print("| first member of a network on the host | \(first.count) | \(ms(first, 0.5)) | \(ms(first, 0.99)) |")
        print("| further member (lease, DHCP re-read) | \(further.count) | \(ms(further, 0.5)) | \(ms(further, 0.99)) |")
        print("| detach (last member removes the network) | \(removal.count) | \(ms(removal, 0.5)) | \(ms(removal, 0.99)) |")
    }

    /// Re-runs this command inside a fresh network namespace, which goes afterwards with all it held.
    func runInNamespace() throws {
        let namespace = "veem-bench-\(getpid())"
        @discardableResult
        func ip(_ arguments: String...) throws -> String {
            let process = Process(), output = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = arguments
            process.standardOutput = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        try ip("netns", "add", namespace)
        defer {
            // DHCP servers a failed run left go first, or the namespace would outlive its name.
            for pid in ((try? ip("netns", "pids", namespace)) ?? "").split(separator: "\n").compactMap({ Int32($0) }) {
                kill(pid, SIGKILL)
            }
            _ = try? ip("netns", "delete", namespace)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, CommandLine.arguments[0], "networks", "--inside",
                             "--networks", "\(networks)", "--members", "\(members)"]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ExitCode(process.terminationStatus) }
    }
}

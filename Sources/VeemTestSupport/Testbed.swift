import Foundation

/// Simulated compute hosts on one machine, made by `Packaging/testbed.sh` as an operator would run it: each host
/// (`h1`…) a network, mount and UTS namespace with its own libvirtd, joined to a control namespace (`ctl`) by a
/// management network (10.77.0.0/24) and an underlay (10.78.0.0/24). Every address lives inside its namespaces.
public final class Testbed: Sendable {
    public let directory: String
    public let hosts: [String]
    static let script = DaemonProcess.packageRoot + "/Packaging/testbed.sh"

    private init(directory: String, hosts: [String]) {
        self.directory = directory
        self.hosts = hosts
    }

    /// Builds `hosts` hosts; returns once each libvirtd's socket exists.
    public static func up(hosts: Int) async throws -> Testbed {
        let directory = NSTemporaryDirectory() + "veemtb\(UUID().uuidString.prefix(6).lowercased())"
        let result = try await ExternalCommand.run(script, ["up", directory, String(hosts)])
        guard result.status == 0 else { throw TestSupportError("testbed.sh up: \(result.output)") }
        return Testbed(directory: directory, hosts: (1...hosts).map { "h\($0)" })
    }

    /// Runs `body` on a fresh testbed and always takes it down, whether `body` returns or throws.
    public static func with<T>(hosts: Int, _ body: (Testbed) async throws -> T) async throws -> T {
        let testbed = try await up(hosts: hosts)
        do {
            let result = try await body(testbed)
            try await testbed.down()
            return result
        } catch {
            try? await testbed.down()
            throw error
        }
    }

    /// What an agent outside the host's namespaces would use to reach its libvirtd.
    public func libvirtURI(_ host: String) -> String {
        "qemu+unix:///system?socket=\(directory)/\(host)/run/libvirt-sock"
    }

    /// The host's address on the management network.
    public func managementAddress(_ host: String) -> String { "10.77.0.\(10 + (Int(host.dropFirst()) ?? 0))" }

    /// The host's address on the underlay.
    public func underlayAddress(_ host: String) -> String { "10.78.0.\(10 + (Int(host.dropFirst()) ?? 0))" }

    /// The network namespaces of this testbed (`vtb-<tag>-…`).
    public var namespacePrefix: String {
        "vtb-" + String(URL(fileURLWithPath: directory).lastPathComponent.filter { $0.isLetter || $0.isNumber }
            .suffix(10)) + "-"
    }

    /// What runs a program inside `node` (a host, or `ctl`) by exec, so that its process is the program itself.
    public func launcher(_ node: String) -> [String] {
        node == "ctl" ? ["/usr/sbin/ip", "netns", "exec", namespacePrefix + "ctl"]
            : ["/usr/bin/nsenter", "--net=/run/netns/\(namespacePrefix)\(node)", "--mount=\(directory)/ns/\(node).mnt",
               "--uts=\(directory)/ns/\(node).uts", "--"]
    }

    /// The control node's address on the management network, where its broker listens.
    public static let controlAddress = "10.77.0.1"

    /// Runs a command in `node` (a host, or `ctl`).
    public func exec(_ node: String, _ arguments: String...) async throws -> ExternalCommand.Result {
        try await exec(node, arguments)
    }

    public func exec(_ node: String, _ arguments: [String]) async throws -> ExternalCommand.Result {
        try await ExternalCommand.run(Self.script, ["exec", directory, node] + arguments)
    }

    /// Starts a command in `node` in the background (a daemon of that host), its output written to `log`.
    public func spawn(_ node: String, log: String, _ arguments: String...) async throws {
        let result = try await ExternalCommand.run(Self.script, ["spawn", directory, node, log] + arguments)
        guard result.status == 0 else { throw TestSupportError("testbed.sh spawn: \(result.output)") }
    }

    /// Removes everything `up` made.
    public func down() async throws {
        let result = try await ExternalCommand.run(Self.script, ["down", directory])
        guard result.status == 0 else { throw TestSupportError("testbed.sh down: \(result.output)") }
    }
}

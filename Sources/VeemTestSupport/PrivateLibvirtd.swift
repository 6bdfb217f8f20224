import Foundation

/// A libvirtd of a test's own, for faults that hit the whole daemon (a restart) without touching the machine's
/// libvirtd, which the suite's other tests share. It runs in a mount namespace of its own in which /etc/libvirt,
/// /run/libvirt, /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt are directories of the test (the
/// capability cache is copied in, so it starts in well under a second); its socket is in the test's directory, so
/// agents outside the namespace reach it at `uri`. Guests it starts keep running across its restarts, as on a host.
public final class PrivateLibvirtd: @unchecked Sendable {
    public let directory: String
    /// `qemu+unix:///system?socket=…`: what an agent's `VEEM_LIBVIRT_URI` names.
    public let uri: String
    private static let bound = ["etc": "/etc/libvirt", "run": "/run/libvirt", "lib": "/var/lib/libvirt",
                                "log": "/var/log/libvirt", "cache": "/var/cache/libvirt"]
    private let lock = NSLock()
    private var daemon: Process?

    private init(directory: String) {
        self.directory = directory
        uri = "qemu+unix:///system?socket=\(directory)/sock/libvirt-sock"
    }

    /// Prepares the directories and starts the daemon; returns once its socket answers.
    public static func start() async throws -> PrivateLibvirtd {
        let directory = NSTemporaryDirectory() + "veem-libvirtd-\(UUID().uuidString.prefix(8).lowercased())"
        let libvirtd = PrivateLibvirtd(directory: directory)
        for sub in Array(bound.keys) + ["sock"] {
            try FileManager.default.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true)
        }
        _ = try? await ExternalCommand.run("/bin/cp", ["-a", "/var/cache/libvirt/qemu", directory + "/cache/"])
        try """
            unix_sock_dir = "\(directory)/sock"
            auth_unix_rw = "none"
            auth_unix_ro = "none"
            host_uuid = "\(UUID().uuidString.lowercased())"
            """.write(toFile: directory + "/etc/libvirtd.conf", atomically: true, encoding: .utf8)
        // No virtlogd, cgroups or security driver to rely on in a test's namespace.
        try """
            stdio_handler = "file"
            security_driver = "none"
            cgroup_controllers = [ ]
            user = "root"
            group = "root"
            """.write(toFile: directory + "/etc/qemu.conf", atomically: true, encoding: .utf8)
        try await libvirtd.boot()
        return libvirtd
    }

    private func boot() async throws {
        let binds = Self.bound.map { "mount --bind '\(directory)/\($0.key)' '\($0.value)'" }.joined(separator: " && ")
        let output = directory + "/libvirtd.out"
        let log = try ExternalCommand.appendingLog(output)
        defer { try? log.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                             "\(binds) && exec /usr/sbin/libvirtd -f '\(directory)/etc/libvirtd.conf' "
                                 + "-p '\(directory)/libvirtd.pid'"]
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        lock.withLock { daemon = process }
        let answering = try await eventually(timeout: .seconds(30)) {
            guard process.isRunning else { return true }
            return try await self.virsh("version").status == 0
        }
        guard answering, process.isRunning else {
            throw TestSupportError("private libvirtd did not start:\n\((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
        }
    }

    /// Stops the daemon as `systemctl restart libvirtd` does (SIGTERM, wait) and starts it again. Guests keep
    /// running meanwhile; clients lose their connections.
    public func restart() async throws {
        await stop()
        try await boot()
    }

    /// Stops the daemon (SIGTERM, then SIGKILL after 30 s); guests it started keep running.
    public func stop() async {
        guard let process = lock.withLock({ daemon }), process.isRunning else { return }
        process.terminate()
        _ = try? await eventually(timeout: .seconds(30)) { !process.isRunning }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Runs virsh against this daemon.
    public func virsh(_ arguments: String...) async throws -> ExternalCommand.Result {
        try await ExternalCommand.run("/usr/bin/virsh", ["-q", "-c", uri] + arguments)
    }

    /// The names of every domain it has, running or not.
    public func domainNames() async throws -> [String] {
        let result = try await virsh("list", "--all", "--name")
        guard result.status == 0 else { throw TestSupportError("virsh list: \(result.output)") }
        return result.output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// Powers off and undefines every domain, stops the daemon and removes its files.
    public func shutdown() async {
        for name in (try? await domainNames()) ?? [] {
            _ = try? await virsh("destroy", name)
            _ = try? await virsh("undefine", "--managed-save", name)
        }
        await stop()
        if ProcessInfo.processInfo.environment["VEEM_KEEP_TEST_FILES"] == nil {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}

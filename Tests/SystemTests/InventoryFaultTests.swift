import Foundation
import Hypervisor
import Testing
import VeemTestSupport

/// The shipped coordinator with its inventory on a small tmpfs: when the disk fills, writes are refused at once with
/// an error naming the file, reads are still answered, and writes work again once there is room; a read-only
/// inventory stops the daemon at start with the file named.
@Suite(.serialized) struct InventoryFaultTests {
    @Test func aFullOrReadOnlyInventoryIsRefusedClearlyAndReadsGoOn() async throws {
        try await ShippedSite.with(label: "inventory") { site in
            let disk = site.directory + "/inventory"
            try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
            try await Self.mount(["-t", "tmpfs", "-o", "size=4m", "tmpfs", disk])
            do {
                try await run(site, disk: disk)
                try await Self.mount(["-l", disk], command: "/usr/bin/umount")
            } catch {
                _ = try? await site.stop("coordinator")
                try? await Self.mount(["-l", disk], command: "/usr/bin/umount")
                throw error
            }
        }
    }

    func run(_ site: ShippedSite, disk: String) async throws {
        let database = disk + "/coordinator.sqlite"
        let images = site.directory + "/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        try JSONEncoder().encode(GuestImage(name: "small")).write(to: URL(fileURLWithPath: images + "/small.json"))
        try await site.start("veem-coordinator", name: "coordinator", settings: [
            "VEEM_SITE": "site1", "VEEM_DATABASE": database, "VEEM_HEARTBEAT_SECONDS": "1",
        ])
        try await site.start("veem-agent", name: "host1", settings: [
            "VEEM_HOST": "host1", "VEEM_LIBVIRT_URI": try TestNode.uri(cpus: 8, memoryMiB: 8192),
            "VEEM_DOMAIN_TYPE": "test", "VEEM_IMAGE_DIR": images, "VEEM_STATE_DIR": site.directory + "/host1",
            "VEEM_HEARTBEAT_SECONDS": "1",
        ])
        let registered = try await eventually(timeout: .seconds(30)) {
            VeemctlTable.rows(try await site.veemctl("hosts")).contains { $0[0] == "host1" && $0[2] == "UP" }
        }
        try #require(registered, "host1 registered")
        let lone = site.directory + "/lone.json"
        try #"{"vees": [{"name": "lone1", "cpus": 1, "memoryMiB": 128, "diskGiB": 1, "image": "small"}]}"#
            .write(toFile: lone, atomically: true, encoding: .utf8)
        try await site.veemctl("submit", lone, "--timeout", "30")

        // A manifest far larger than the room left: its write must grow the files, and cannot.
        let manifest = site.directory + "/big.yaml"
        let padding = String(repeating: "# padding to make the manifest large\n", count: 16_000)
        try (padding + """
            service: big
            components:
              C1: {cpus: 1, memoryMiB: 128, diskGiB: 1, image: small, replicas: {initial: 1, min: 1, max: 2}}
            """).write(toFile: manifest, atomically: true, encoding: .utf8)
        let filler = disk + "/filler"
        Self.fill(filler)

        let refused = try await site.veemctlResult(["service", "submit", manifest, "--timeout", "30"])
        #expect(refused.status != 0, "deployed on a full disk: \(refused.output)")
        #expect(refused.output.contains("InventoryUnavailable") && refused.output.contains(database)
                && refused.output.contains("full"), "the refusal names the file and the cause:\n\(refused.output)")
        // Reads are answered from what is there; nothing of the refused service was kept.
        let vees = VeemctlTable.rows(try await site.veemctl("vees", "--timeout", "10"))
        #expect(vees.map { $0[0] } == ["lone1"], "\(vees)")
        let services = try await site.veemctl("service", "list", "--timeout", "10")
        #expect(!services.contains("big"), "\(services)")
        let coordinator = try #require(site.process("coordinator"))
        #expect(try await coordinator.waitForExit(timeout: .zero) == nil, "the coordinator kept running")

        // Heartbeats cannot be recorded either; once they have been missing for longer than the host's window
        // (3 s), room again must not make the host look dead.
        let stale = try await eventually(timeout: .seconds(30)) {
            let row = VeemctlTable.rows(try await site.veemctl("hosts", "--timeout", "10")).first { $0[0] == "host1" }
            let last = row.flatMap { try? Date($0[9], strategy: .iso8601) }
            return last.map { Date().timeIntervalSince($0) > 5 } ?? false
        }
        #expect(stale, "heartbeats went unrecorded while the disk was full")

        // Room again: the same deployment goes through.
        try FileManager.default.removeItem(atPath: filler)
        let deployed = try await site.veemctlResult(["service", "submit", manifest, "--timeout", "60"])
        #expect(deployed.status == 0, "deployed once there was room: \(deployed.output)")
        let hosts = VeemctlTable.rows(try await site.veemctl("hosts"))
        #expect(hosts.first { $0[0] == "host1" }?[2] == "UP", "\(hosts)")
        #expect(!coordinator.output.contains("host down"), "a full disk is no host's failure:\n\(coordinator.output)")

        // A read-only inventory: the coordinator does not start, and says which file and why. Killed, so that the
        // -wal and -shm files stay: SQLite can then still read the file, and only a write shows it is read-only.
        try await #require(site.process("coordinator")).kill9()
        #expect(FileManager.default.fileExists(atPath: database + "-wal"))
        try await Self.mount(["-o", "remount,ro", disk])
        let readOnly = try DaemonProcess("veem-coordinator", name: "coordinator-ro", directory: site.directory,
                                         settings: ["VEEM_SITE": "site1", "VEEM_DATABASE": database,
                                                    "VEEM_AMQP_URL": site.amqpURL])
        let exit = try await readOnly.waitForExit(timeout: .seconds(30))
        #expect(exit.map { !$0.signalled && $0.status != 0 } == true, "\(String(describing: exit))")
        #expect(readOnly.output.contains("cannot open the site inventory \(database)")
                && readOnly.output.contains("read-only"), "\(readOnly.output)")
        #expect(readOnly.notify.hasReceived("READY=1") == false)
        readOnly.notify.close()
    }

    /// Writes zeros to `path` until the file system is full.
    static func fill(_ path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        defer { try? handle.close() }
        let chunk = Data(count: 64 << 10)
        while (try? handle.write(contentsOf: chunk)) != nil {}
        // The last partial chunk: what is left, byte pages at a time.
        let page = Data(count: 512)
        while (try? handle.write(contentsOf: page)) != nil {}
    }

    static func mount(_ arguments: [String], command: String = "/usr/bin/mount") async throws {
        let result = try await ExternalCommand.run(command, arguments)
        guard result.status == 0 else {
            throw TestSupportError("\(command) \(arguments.joined(separator: " ")): \(result.output)")
        }
    }
}

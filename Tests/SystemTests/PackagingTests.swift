import Foundation
import Testing
import VeemTestSupport

/// What Packaging/install.sh lays down is what the units under systemd/ run: each ExecStart= names an installed
/// executable with an installed settings file, `systemd-analyze verify` accepts every unit against that root, and an
/// installed daemon started as its unit starts it (shipped settings, environment overrides) reports ready.
@Suite(.serialized) struct PackagingTests {
    static let units = ["veem-agent", "veem-coordinator", "veem-ec2"]

    /// Installs into a fresh staging root, with systemd's own units beside veem's so that verify can resolve
    /// sysinit.target and the like.
    func stagedRoot() async throws -> String {
        let root = NSTemporaryDirectory() + "veem-root-\(UUID().uuidString.prefix(8))"
        var environment = ProcessInfo.processInfo.environment
        environment["DESTDIR"] = root
        let installed = try await ExternalCommand.run(DaemonProcess.packageRoot + "/Packaging/install.sh",
                                                      [DaemonProcess.binDirectory], environment: environment)
        #expect(installed.status == 0, "install.sh: \(installed.output)")
        let copied = try await ExternalCommand.run("/bin/cp", ["-an", "/lib/systemd/system/.",
                                                               root + "/lib/systemd/system/"])
        #expect(copied.status == 0, "\(copied.output)")
        return root
    }

    @Test func everyUnitRunsWhatInstallPutsAndVerifies() async throws {
        let root = try await stagedRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let files = FileManager.default
        for name in Self.units {
            let unit = try SystemdUnit(path: "\(root)/lib/systemd/system/\(name).service")
            #expect(unit.value("Type") == "notify")
            let exec = unit.execStart
            #expect(exec.first == "/usr/bin/\(name)", "\(name): \(exec)")
            #expect(files.contentsEqual(atPath: root + exec[0], andPath: DaemonProcess.binDirectory + "/" + name),
                    "\(name): the installed executable is the built one")
            let config = try #require(exec.firstIndex(of: "--config").map { exec[$0 + 1] }, "\(name): \(exec)")
            #expect(config == "/etc/veem/\(name.dropFirst("veem-".count)).conf")
            #expect(files.fileExists(atPath: root + config), "\(name): \(config) installed")
            #expect(unit.value("EnvironmentFile") == "-/etc/veem/\(name.dropFirst("veem-".count)).env")
            // Who runs it: root for the agent and coordinator (libvirt, the inventory); a dynamic user for the
            // stateless gateway, which must then be able to read its settings.
            let mode = try #require(try files.attributesOfItem(atPath: root + config)[.posixPermissions] as? Int)
            if name == "veem-ec2" {
                #expect(unit.value("DynamicUser") == "yes")
                #expect(mode & 0o004 != 0, "ec2.conf readable by the dynamic user")
            } else {
                #expect(unit.value("User") == nil && unit.value("DynamicUser") != "yes", "\(name) runs as root")
                #expect(mode & 0o007 == 0, "\(name)'s settings (the broker password) not world-readable")
            }
        }
        let verify = try await ExternalCommand.run("/usr/bin/systemd-analyze",
                                                   ["verify", "--root=\(root)"] + Self.units.map { $0 + ".service" })
        #expect(verify.status == 0 && verify.output.isEmpty, "systemd-analyze verify:\n\(verify.output)")
    }

    @Test func aSecondInstallKeepsTheOperatorsSettings() async throws {
        let root = try await stagedRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let settings = root + "/etc/veem/agent.conf"
        try "VEEM_HOST=edited\n".write(toFile: settings, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["DESTDIR"] = root
        let again = try await ExternalCommand.run(DaemonProcess.packageRoot + "/Packaging/install.sh",
                                                  [DaemonProcess.binDirectory], environment: environment)
        #expect(again.status == 0 && again.output.contains("keeping \(settings)"), "\(again.output)")
        #expect(try String(contentsOfFile: settings, encoding: .utf8) == "VEEM_HOST=edited\n")
    }

    /// The installed gateway with the shipped ec2.conf, its broker and address overridden from the environment as an
    /// EnvironmentFile= would: ready, then stopped by SIGTERM with exit 0.
    @Test func anInstalledDaemonStartsFromTheShippedSettings() async throws {
        let root = try await stagedRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let broker = try await TestBroker.fresh(label: "packaging")
        let unit = try SystemdUnit(path: root + "/lib/systemd/system/veem-ec2.service")
        let gateway = try DaemonProcess(root + "/usr/bin/veem-ec2", name: "ec2", directory: root + "/run",
                                        settings: [:], environment: [
                                            "VEEM_AMQP_URL": "amqp://guest:guest@\(broker.host):\(broker.port)/\(broker.vhost)",
                                            "VEEM_EC2_LISTEN": "127.0.0.1:0",
                                        ], watchdog: unit.watchdog, settingsPath: root + "/etc/veem/ec2.conf")
        do {
            try await gateway.waitUntilReady(timeout: .seconds(30))
            let exit = try await gateway.terminate(timeout: unit.stopTimeout)
            #expect(!exit.signalled && exit.status == 0, "\(exit): \(gateway.output)")
        } catch {
            await gateway.stop()
            await broker.delete()
            throw error
        }
        gateway.notify.close()
        await broker.delete()
    }

    /// Packaging/start-daemon.py, the quick start's stand-in for systemd: runs a unit's ExecStart= with its
    /// EnvironmentFile=, returns on READY=1 with the daemon running, and fails loudly, with the log, otherwise.
    @Test func theQuickStartsStarterWaitsForReadyAndFailsLoudly() async throws {
        let directory = NSTemporaryDirectory() + "veem-starter-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let broker = try await TestBroker.fresh(label: "starter")
        func unit(_ name: String, settings: String) throws -> String {
            try settings.write(toFile: "\(directory)/\(name).conf", atomically: true, encoding: .utf8)
            try "VEEM_AMQP_URL=amqp://guest:guest@\(broker.host):\(broker.port)/\(broker.vhost)\n"
                .write(toFile: "\(directory)/\(name).env", atomically: true, encoding: .utf8)
            let shipped = try String(contentsOfFile: DaemonProcess.packageRoot + "/systemd/veem-ec2.service",
                                     encoding: .utf8)
            let text = shipped
                .replacingOccurrences(of: "/usr/bin/veem-ec2", with: DaemonProcess.binDirectory + "/veem-ec2")
                .replacingOccurrences(of: "/etc/veem/ec2.conf", with: "\(directory)/\(name).conf")
                .replacingOccurrences(of: "/etc/veem/ec2.env", with: "\(directory)/\(name).env")
            try text.write(toFile: "\(directory)/\(name).service", atomically: true, encoding: .utf8)
            return "\(directory)/\(name).service"
        }
        func start(_ unit: String, _ name: String) async throws -> ExternalCommand.Result {
            try await ExternalCommand.run(DaemonProcess.packageRoot + "/Packaging/start-daemon.py",
                                          [unit, "\(directory)/\(name).log", "\(directory)/\(name).pid", "30"])
        }
        let good = try await start(try unit("good", settings: "VEEM_EC2_LISTEN=127.0.0.1:0\n"), "good")
        let pid = Int32(try String(contentsOfFile: "\(directory)/good.pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(good.status == 0 && good.output.contains("EC2 API on 127.0.0.1:"), "\(good.output)")
        #expect(pid > 0 && kill(pid, 0) == 0, "the daemon keeps running after the starter returned")
        if pid > 0 { kill(pid, SIGTERM) }

        let bad = try await start(try unit("bad", settings: "VEEM_EC2_LISTEN=everywhere\n"), "bad")
        #expect(bad.status != 0, "\(bad.output)")
        #expect(bad.output.contains("did not start: it exited with status 1")
                && bad.output.contains("VEEM_EC2_LISTEN must be HOST:PORT"), "\(bad.output)")
        await broker.delete()
    }
}

import Foundation
import Testing
import VeemTestSupport

/// A daemon that cannot start never exits 0 and never reports ready: each built executable, run as its unit runs it,
/// with a bad flag, a missing or malformed settings file, a bad value, or a broker it cannot reach.
@Suite struct DaemonStartupTests {
    /// The three daemons with settings that would start them, and a value each rejects.
    struct Daemon: Sendable, CustomStringConvertible {
        var executable: String
        var settings: @Sendable (String) -> [String: String]
        var badValue: (key: String, value: String)
        var description: String { executable }
    }

    static let daemons: [Daemon] = [
        Daemon(executable: "veem-coordinator",
               settings: { ["VEEM_SITE": "site1", "VEEM_DATABASE": $0 + "/coordinator.sqlite"] },
               badValue: ("VEEM_PLACEMENT_WEIGHER", "fastest")),
        Daemon(executable: "veem-agent",
               settings: { ["VEEM_HOST": "startup1", "VEEM_LIBVIRT_URI": "test:///default", "VEEM_DOMAIN_TYPE": "test",
                            "VEEM_STATE_DIR": $0, "VEEM_IMAGE_DIR": $0] },
               badValue: ("VEEM_HEARTBEAT_SECONDS", "soon")),
        Daemon(executable: "veem-ec2", settings: { _ in ["VEEM_EC2_LISTEN": "127.0.0.1:0"] },
               badValue: ("VEEM_EC2_LISTEN", "everywhere")),
    ]

    /// Port 1 (tcpmux) on loopback: nothing listens there, so a connect is refused at once.
    static let closedBroker = "amqp://guest:guest@127.0.0.1:1/veem"

    func directory() -> String { NSTemporaryDirectory() + "veem-startup-\(UUID().uuidString.prefix(8))" }

    /// Runs the daemon to its end and checks that it failed, said `expected` on stderr, and never sent READY=1.
    func expectFailure(_ process: DaemonProcess, saying expected: String) async throws {
        defer { process.notify.close() }
        let exit = try #require(try await process.waitForExit(timeout: .seconds(60)), "\(process.name) kept running")
        #expect(!exit.signalled && exit.status != 0, "\(process.name): \(exit)\n\(process.output)")
        #expect(process.output.contains(expected), "\(process.name) should say '\(expected)':\n\(process.output)")
        #expect(!process.notify.hasReceived("READY=1"), "\(process.name) reported ready")
    }

    @Test(arguments: daemons) func anUnknownFlagIsRefused(daemon: Daemon) async throws {
        let directory = directory()
        let process = try DaemonProcess(daemon.executable, name: "flag", directory: directory,
                                        settings: daemon.settings(directory), arguments: ["--no-such-flag"])
        try await expectFailure(process, saying: "Unknown option '--no-such-flag'")
    }

    @Test(arguments: daemons) func aMissingSettingsFileIsNamed(daemon: Daemon) async throws {
        let directory = directory()
        let process = try DaemonProcess(daemon.executable, name: "missing", directory: directory, settings: [:],
                                        writeSettings: false)
        try await expectFailure(process, saying: "settings file \(directory)/missing.conf does not exist")
    }

    @Test(arguments: daemons) func aMalformedSettingsFileIsNamedWithItsLine(daemon: Daemon) async throws {
        let directory = directory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "VEEM_LOG_LEVEL=info\nthis is not a setting\n"
            .write(toFile: directory + "/malformed.conf", atomically: true, encoding: .utf8)
        let process = try DaemonProcess(daemon.executable, name: "malformed", directory: directory, settings: [:],
                                        writeSettings: false)
        try await expectFailure(process, saying: "\(directory)/malformed.conf:2: expected KEY=value")
    }

    @Test(arguments: daemons) func aBadValueIsNamed(daemon: Daemon) async throws {
        let directory = directory()
        var settings = daemon.settings(directory)
        settings[daemon.badValue.key] = daemon.badValue.value
        let process = try DaemonProcess(daemon.executable, name: "value", directory: directory, settings: settings)
        try await expectFailure(process, saying: daemon.badValue.key)
        #expect(process.output.contains(daemon.badValue.value))
    }

    @Test(arguments: daemons) func anUnreachableBrokerIsRetriedThenNamed(daemon: Daemon) async throws {
        let directory = directory()
        var settings = daemon.settings(directory)
        settings["VEEM_AMQP_URL"] = Self.closedBroker
        settings["VEEM_AMQP_CONNECT_TIMEOUT_SECONDS"] = "2"
        let process = try DaemonProcess(daemon.executable, name: "broker", directory: directory, settings: settings)
        try await expectFailure(process,
                                saying: "cannot reach the broker at 127.0.0.1:1 (vhost veem): connect to 127.0.0.1:1: Connection refused")
        // It retried before giving up.
        #expect(process.output.components(separatedBy: "cannot connect to broker").count > 2, "\(process.output)")
    }
}

import Foundation

/// A site made of the built executables, each its own process as its systemd unit runs it, on a fresh vhost, driven
/// only through public interfaces (the built `veemctl`, the EC2 port, the broker's queues).
public final class ShippedSite: @unchecked Sendable {
    public let broker: TestBroker
    public let directory: String
    private let lock = NSLock()
    private var daemons: [String: (executable: String, settings: [String: String], launcher: [String],
                                   process: DaemonProcess)] = [:]

    /// The broker URL every daemon and client of this site uses, unless given their own.
    public var amqpURL: String { "amqp://guest:guest@\(broker.host):\(broker.port)/\(broker.vhost)" }
    private var operatorURL: String?
    private var operatorLauncher: [String] = []
    /// What runs `veemctl` where the broker is reachable (a testbed's control node); empty: the root namespace.
    public var veemctlLauncher: [String] {
        get { lock.withLock { operatorLauncher } }
        set { lock.withLock { operatorLauncher = newValue } }
    }
    /// The broker URL `veemctl` runs with: `amqpURL` unless an operator's own user was set.
    public var veemctlURL: String {
        get { lock.withLock { operatorURL ?? amqpURL } }
        set { lock.withLock { operatorURL = newValue } }
    }

    /// A site on a fresh vhost of the machine's broker, or of `node` for tests that stop the whole broker.
    public init(label: String = "shipped", on node: PrivateBroker? = nil) async throws {
        broker = try await TestBroker.fresh(label: label, on: node)
        directory = NSTemporaryDirectory() + "veem-\(broker.vhost)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Runs `body` against a fresh site and always stops its processes and removes its vhost and files.
    public static func with<T>(label: String = "shipped", on node: PrivateBroker? = nil,
                               _ body: (ShippedSite) async throws -> T) async throws -> T {
        let site = try await ShippedSite(label: label, on: node)
        do {
            let result = try await body(site)
            await site.shutdown()
            return result
        } catch {
            await site.shutdown()
            throw error
        }
    }

    /// Starts `executable` (veem-coordinator, veem-agent, veem-ec2) as `name` with a settings file of `settings`
    /// (plus this site's broker), its unit's watchdog, and waits for its `READY=1`; `launcher` runs it inside a
    /// testbed node's namespaces.
    @discardableResult
    public func start(_ executable: String, name: String, settings: [String: String],
                      readyTimeout: Duration = .seconds(90), launcher: [String] = []) async throws -> DaemonProcess {
        let unit = try SystemdUnit(named: executable)
        let settings = ["VEEM_AMQP_URL": amqpURL, "VEEM_LOG_LEVEL": "info"].merging(settings) { $1 }
        let process = try DaemonProcess(executable, name: name, directory: directory, settings: settings,
                                        watchdog: unit.watchdog, launcher: launcher)
        lock.withLock { daemons[name] = (executable, settings, launcher, process) }
        try await process.waitUntilReady(timeout: readyTimeout)
        return process
    }

    /// The running process of `name`.
    public func process(_ name: String) -> DaemonProcess? { lock.withLock { daemons[name]?.process } }

    /// Starts `name` again with the settings it had.
    @discardableResult
    public func restart(_ name: String) async throws -> DaemonProcess {
        guard let daemon = lock.withLock({ daemons[name] }) else { throw TestSupportError("no daemon \(name)") }
        return try await start(daemon.executable, name: name, settings: daemon.settings, launcher: daemon.launcher)
    }

    /// Stops `name` as `systemctl stop` does (SIGTERM, then its unit's TimeoutStopSec) and returns how it ended.
    public func stop(_ name: String) async throws -> DaemonProcess.Exit {
        guard let daemon = lock.withLock({ daemons[name] }) else { throw TestSupportError("no daemon \(name)") }
        let exit = try await daemon.process.terminate(timeout: try SystemdUnit(named: daemon.executable).stopTimeout)
        daemon.process.notify.close()
        return exit
    }

    /// Runs the built `veemctl` with this site's broker; returns its status and output.
    public func veemctlResult(_ arguments: [String]) async throws -> ExternalCommand.Result {
        var environment = ProcessInfo.processInfo.environment
        environment["VEEM_AMQP_URL"] = veemctlURL
        let command = veemctlLauncher + [DaemonProcess.binDirectory + "/veemctl"] + arguments
        return try await ExternalCommand.run(command[0], Array(command.dropFirst()), environment: environment)
    }

    /// Runs the built `veemctl` and returns its output; a non-zero exit throws with that output.
    @discardableResult
    public func veemctl(_ arguments: String...) async throws -> String {
        let result = try await veemctlResult(arguments)
        guard result.status == 0 else {
            throw TestSupportError("veemctl \(arguments.joined(separator: " ")) exited \(result.status):\n\(result.output)")
        }
        return result.output
    }

    public func shutdown() async {
        for (_, daemon) in lock.withLock({ daemons }) { await daemon.process.stop() }
        await broker.delete()
        if ProcessInfo.processInfo.environment["VEEM_KEEP_TEST_FILES"] == nil {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}

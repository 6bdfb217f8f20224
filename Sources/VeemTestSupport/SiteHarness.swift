import Agent
import Cloud
import Coordinator
import EC2Gateway
import Foundation
import Hypervisor
import Inventory
import Logging
import Messaging
import VeemClient
import VMI

/// A whole site in one process on a fresh vhost: a coordinator, any number of agents (each on its own libvirt URI),
/// and a client with a watcher. Services run as tasks; stopping one cancels it and drops its broker connection, as
/// the death of its process would.
public final class SiteHarness: @unchecked Sendable {
    public let broker: TestBroker
    public let directory: String
    public let heartbeat: Duration
    public let imageDirectory: String
    public private(set) var client: VeemClient!
    public private(set) var watcher: SiteWatcher!
    private let lock = NSLock()
    private var coordinator: (Task<Void, Error>, AMQPConnection)?
    private var agents: [String: (Task<Void, Error>, AMQPConnection)] = [:]
    private var gateways: [(Task<Void, Error>, AMQPConnection)] = []
    let logger: Logger
    /// Warnings and errors every service of this site logged.
    public let logs: LogCapture

    /// `images` are the image descriptions every agent offers (by default one named `tiny` with no files, which
    /// the test driver accepts).
    public init(label: String = "test", heartbeat: Duration = .seconds(1),
                images: [GuestImage] = [GuestImage(name: "tiny")], watching: String = "site.#") async throws {
        broker = try await TestBroker.fresh(label: label)
        try await broker.declareSiteTopology()
        directory = NSTemporaryDirectory() + "veem-\(broker.vhost)"
        imageDirectory = directory + "/images"
        self.heartbeat = heartbeat
        var printed = StreamLogHandler.standardError(label: "veem.test")
        printed.logLevel = ProcessInfo.processInfo.environment["VEEM_TEST_LOG"].flatMap { Logger.Level(rawValue: $0) }
            ?? .critical
        let logs = LogCapture()
        self.logs = logs
        logger = Logger(label: "veem.test") { label in
            MultiplexLogHandler([printed, logs.handler(label: label)])
        }
        try FileManager.default.createDirectory(atPath: imageDirectory, withIntermediateDirectories: true)
        for image in images {
            try JSONEncoder().encode(image).write(to: URL(fileURLWithPath: "\(imageDirectory)/\(image.name).json"))
        }
        let connection = AMQPConnection(configuration: broker.configuration(name: "test-client"), logger: logger)
        client = VeemClient(connection: connection, sender: "test")
        try await client.start()
        // Site events only: host reports (heartbeats, metrics) are the coordinator's business. Benchmarks watch
        // less (`site.host_up`), so the watcher costs the site nothing per VEE.
        watcher = try await SiteWatcher.start(connection, routingKey: watching)
    }

    /// Runs `body` against a fresh site and always tears it down, whether `body` returns or throws.
    public static func with<T>(label: String = "test", heartbeat: Duration = .seconds(1),
                               images: [GuestImage] = [GuestImage(name: "tiny")], watching: String = "site.#",
                               _ body: (SiteHarness) async throws -> T) async throws -> T {
        let site = try await SiteHarness(label: label, heartbeat: heartbeat, images: images, watching: watching)
        do {
            let result = try await body(site)
            await site.shutdown()
            return result
        } catch {
            await site.shutdown()
            throw error
        }
    }

    /// The coordinator's database; `freshDatabase()` moves to a new, empty one (as after losing the disk).
    public var databasePath: String { lock.withLock { directory + "/" + databaseName } }
    private var databaseName = "coordinator.sqlite"

    public func freshDatabase() {
        lock.withLock { databaseName = "coordinator-\(UUID().uuidString.prefix(8)).sqlite" }
    }

    /// Where an agent of this harness writes a VEE's serial console.
    public func consolePath(host: String, vee: String) -> String { "\(directory)/\(host)/consoles/\(vee).log" }

    /// Starts a coordinator on the site's database and waits until it serves.
    public func startCoordinator(shutdownTimeout: Duration = .seconds(5),
                                 placement: SitePlacement = SitePlacement(), cloud: CloudSite? = nil) async throws {
        let connection = AMQPConnection(configuration: broker.configuration(name: "coordinator"), logger: logger)
        let (ready, signal) = AsyncStream.makeStream(of: Void.self)
        let service = CoordinatorService(
            configuration: CoordinatorConfiguration(databasePath: databasePath, heartbeatInterval: heartbeat,
                                                    shutdownTimeout: shutdownTimeout, placement: placement,
                                                    cloud: cloud),
            inventory: try Inventory(path: databasePath), connection: connection, logger: logger,
            onReady: { _ in signal.finish() })
        let task = Task {
            defer { signal.finish() }
            try await service.run()
        }
        lock.withLock { coordinator = (task, connection) }
        for await _ in ready {}
        // A coordinator that failed to start has ended its task by now.
        if task.isCancelled { throw TestSupportError("coordinator did not start") }
    }

    public func stopCoordinator() async {
        guard let (task, connection) = lock.withLock({ coordinator }) else { return }
        task.cancel()
        connection.close()
        _ = await task.result
        lock.withLock { coordinator = nil }
    }

    /// Starts an agent for `host` on `driver` and waits until the coordinator has it up.
    public func startAgent(_ host: String, driver: any HypervisorDriver, bootTimeout: Duration = .seconds(120),
                           domainType: String = "auto", group: String = "default") async throws {
        let connection = AMQPConnection(configuration: broker.configuration(name: "agent-\(host)"), logger: logger)
        let configuration = AgentConfiguration(
            host: host, libvirtURI: "", domainType: domainType, imageDirectory: imageDirectory,
            stateDirectory: "\(directory)/\(host)", heartbeatInterval: heartbeat, metricsInterval: heartbeat,
            bootTimeout: bootTimeout, group: group)
        let agent = AgentService(configuration: configuration, driver: driver, connection: connection, logger: logger)
        let registrations = watcher.seen.filter { $0.host == host && $0.kind == .hostUp }.count
        let task = Task { try await agent.run() }
        lock.withLock { agents[host] = (task, connection) }
        _ = try await watcher.wait(timeout: .seconds(60), what: "host \(host) registered") { history in
            history.filter { $0.host == host && $0.kind == .hostUp }.count > registrations ? history.last : nil
        } matching: { $0.host == host && $0.kind == .hostUp }
    }

    /// A coordinator and one agent for `host` on `driver`, both serving.
    public func startCoordinatorAndAgent(_ host: String, driver: any HypervisorDriver) async throws {
        try await startCoordinator()
        try await startAgent(host, driver: driver)
    }

    /// InitializeVEE, then waits until the host reports the VEE DEFINED.
    public func define(_ spec: VEESpec) async throws -> VEEView {
        let vee = try await client.initialize(spec)
        try await expect(vee, .defined)
        return vee
    }

    /// VEEUpdate, then waits until the host reports the state the action leads to.
    public func change(_ vee: VEEView, _ action: VEEAction, timeout: Duration = .seconds(30)) async throws {
        _ = try await client.update(vee.id, action)
        try await expect(vee, action.target, timeout: timeout)
    }

    /// Stops an agent at once, mid-flight: its unacked commands go back to its queue.
    public func killAgent(_ host: String) async {
        guard let (task, connection) = lock.withLock({ agents.removeValue(forKey: host) }) else { return }
        connection.close()
        task.cancel()
        _ = await task.result
    }

    /// Starts an EC2 gateway on a free port of 127.0.0.1 and returns the port once it listens.
    public func startGateway(clockSkew: TimeInterval? = 300) async throws -> Int {
        let connection = AMQPConnection(configuration: broker.configuration(name: "ec2"), logger: logger)
        let (ports, listening) = AsyncStream.makeStream(of: Int.self)
        let gateway = EC2Gateway(configuration: GatewayConfiguration(port: 0, clockSkew: clockSkew),
                                 client: VeemClient(connection: connection, sender: "ec2-test"), logger: logger) {
            listening.yield($0)
            listening.finish()
        }
        let task = Task {
            defer { listening.finish() }
            try await gateway.run()
        }
        lock.withLock { gateways.append((task, connection)) }
        for await port in ports { return port }
        throw TestSupportError("EC2 gateway did not start: \(String(describing: await task.result))")
    }

    public func shutdown() async {
        for (task, connection) in lock.withLock({ gateways }) {
            task.cancel()
            connection.close()
            _ = await task.result
        }
        for host in lock.withLock({ Array(agents.keys) }) { await killAgent(host) }
        await stopCoordinator()
        client.stop()
        await broker.delete()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Waits for a VEE (by id) to be observed in `state`; FAILED ends the wait with an error.
    @discardableResult
    public func expect(_ vee: VEEView, _ state: VEEState, timeout: Duration = .seconds(30)) async throws -> VEEState {
        let reached = try await watcher.wait(for: vee.id, toReach: [state, .failed], timeout: timeout)
        if reached != state {
            let now = try await client.site().vees.first { $0.id == vee.id }
            throw TestSupportError("\(vee.spec.name) reached \(reached.rawValue): \(now?.lastError ?? "no error")")
        }
        return reached
    }
}

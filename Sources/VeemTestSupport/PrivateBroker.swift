import Foundation

/// A RabbitMQ node of a test's own (its own port, node name, database and logs under a temporary directory), for
/// faults that hit the whole broker — `stop_app`, a restart — without touching the machine's broker, which the
/// suite's other tests share. Starts in about 7 s.
public final class PrivateBroker: @unchecked Sendable {
    public let node: String
    public let port: Int
    /// The TLS (AMQPS) listener's port, when started with a CA.
    public let tlsPort: Int?
    public let directory: String
    private static let server = "/usr/sbin/rabbitmq-server"
    /// Runs the node and its rabbitmqctl inside namespaces (`Testbed.launcher("ctl")`); empty for the root's.
    public let launcher: [String]
    private let lock = NSLock()
    private var nodeProcess: Process?

    private init(node: String, port: Int, tlsPort: Int?, directory: String, launcher: [String]) {
        self.launcher = launcher
        self.node = node
        self.port = port
        self.tlsPort = tlsPort
        self.directory = directory
    }

    /// Starts a node on free loopback ports and waits until it serves; with `tls`, also an AMQPS listener with the
    /// server certificate `tls` signed.
    /// With `launcher`, it runs inside those namespaces and also listens on `address` (a testbed's control node),
    /// and any user may log in from there (`loopback_users = none`).
    public static func start(tls: TestCA? = nil, launcher: [String] = [], address: String? = nil) async throws
        -> PrivateBroker {
        let name = "veemtest\(UUID().uuidString.prefix(8).lowercased())"
        let directory = NSTemporaryDirectory() + name
        let port = try freePort()
        var tlsPort: Int?
        while tls != nil, tlsPort == nil || tlsPort == port { tlsPort = try freePort() }
        let broker = PrivateBroker(node: "\(name)@localhost", port: port, tlsPort: tlsPort, directory: directory,
                                   launcher: launcher)
        for sub in ["mnesia", "log"] {
            try FileManager.default.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true)
        }
        try "[].\n".write(toFile: directory + "/enabled_plugins", atomically: true, encoding: .utf8)
        var config = """
            listeners.tcp.1 = 127.0.0.1:\(broker.port)
            log.console = false

            """
        if let address {
            config += "listeners.tcp.2 = \(address):\(broker.port)\nloopback_users = none\n"
        }
        if let tls, let tlsPort = broker.tlsPort {
            config += """
                listeners.ssl.default = 127.0.0.1:\(tlsPort)
                ssl_options.cacertfile = \(tls.caFile)
                ssl_options.certfile = \(tls.serverCertFile)
                ssl_options.keyfile = \(tls.serverKeyFile)
                ssl_options.verify = verify_none
                ssl_options.fail_if_no_peer_cert = false

                """
        }
        try config.write(toFile: directory + "/rabbitmq.conf", atomically: true, encoding: .utf8)
        // The Debian wrapper runs the node as the rabbitmq user: it must own what the node writes.
        _ = try await ExternalCommand.run("/bin/chown", ["-R", "rabbitmq:rabbitmq", directory])
        try await broker.boot()
        return broker
    }

    private var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["RABBITMQ_NODENAME"] = node
        environment["RABBITMQ_NODE_PORT"] = String(port)
        environment["RABBITMQ_DIST_PORT"] = String(port + 10_000)
        environment["RABBITMQ_MNESIA_BASE"] = directory + "/mnesia"
        environment["RABBITMQ_LOG_BASE"] = directory + "/log"
        environment["RABBITMQ_ENABLED_PLUGINS_FILE"] = directory + "/enabled_plugins"
        environment["RABBITMQ_CONFIG_FILE"] = directory + "/rabbitmq.conf"
        environment["RABBITMQ_PID_FILE"] = directory + "/pid"
        return environment
    }

    /// Spawns the node and waits until it serves. A node that ended before serving (several booting at once on a
    /// loaded machine can lose a race for epmd) is spawned again, up to three times; one still booting is given
    /// two minutes.
    private func boot() async throws {
        for attempt in 1...3 {
            try spawn()
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline {
                if (try? await ctl(["wait", directory + "/pid", "--timeout", "10"])) != nil { return }
                if let node = lock.withLock({ nodeProcess }), !node.isRunning { break }
            }
            let running = lock.withLock { nodeProcess }?.isRunning == true
            let output = (try? String(contentsOfFile: directory + "/server.out", encoding: .utf8)) ?? ""
            guard attempt < 3, !running else {
                throw TestSupportError("""
                    RabbitMQ node \(node) did not serve (\(running ? "still booting after 2 minutes" : "it ended")); \
                    its output: \(output.suffix(2000))
                    """)
            }
        }
    }

    /// Starts the node in the foreground as a child of this process (as systemd runs it), its output in a file.
    private func spawn() throws {
        let output = directory + "/server.out"
        let log = try ExternalCommand.appendingLog(output)
        defer { try? log.close() }
        let process = Process()
        let command = launcher + [Self.server]
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        lock.withLock { nodeProcess = process }
    }

    /// `rabbitmqctl stop_app`: the node stays, the broker inside it stops and drops every connection.
    public func stopApp() async throws { try await ctl(["stop_app"]) }

    /// `rabbitmqctl start_app`, returning once the broker serves again.
    public func startApp() async throws {
        try await ctl(["start_app"])
        try await ctl(["await_startup", "--timeout", "60"])
    }

    /// Stops the whole node and boots it again from its database, as a service restart does.
    public func restart() async throws {
        try await ctl(["stop", directory + "/pid"])
        try await boot()
    }

    /// Stops the node and removes its files.
    public func shutdown() async {
        _ = try? await ctl(["stop", directory + "/pid"])
        if let node = lock.withLock({ nodeProcess }), node.isRunning { node.terminate() }
        if ProcessInfo.processInfo.environment["VEEM_KEEP_TEST_FILES"] == nil {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @discardableResult
    private func ctl(_ arguments: [String]) async throws -> String {
        let command = launcher + ["/usr/sbin/rabbitmqctl", "-q", "-n", node] + arguments
        let result = try await ExternalCommand.run(command[0], Array(command.dropFirst()))
        guard result.status == 0 else {
            throw TestSupportError("rabbitmqctl -n \(node) \(arguments.joined(separator: " ")): \(result.output)")
        }
        return result.output
    }

    /// A loopback TCP port nobody listens on now, below the ephemeral range so that its +10000 twin is valid too.
    private static func freePort() throws -> Int {
        for _ in 0..<50 {
            let port = Int.random(in: 20_000..<30_000)
            if isFree(port), isFree(port + 10_000) { return port }
        }
        throw TestSupportError("no free port pair for a private broker")
    }

    private static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

import Foundation
import Messaging

/// A RabbitMQ vhost of its own for one test or benchmark run, made and removed with `rabbitmqctl`.
public struct TestBroker: Sendable {
    public let vhost: String
    public let host: String
    public let port: Int
    /// The RabbitMQ node `rabbitmqctl` talks to; nil for the machine's own.
    public let node: String?
    /// What runs rabbitmqctl where the node is (a testbed's control namespace); empty for the root namespace.
    public var launcher: [String] = []

    /// Creates a fresh vhost `veem-test-…` and lets `guest` use it, on the machine's broker or on `node`
    /// (a `PrivateBroker`).
    public static func fresh(label: String = "test", on node: PrivateBroker? = nil) async throws -> TestBroker {
        let environment = ProcessInfo.processInfo.environment
        let broker = TestBroker(vhost: "veem-\(label)-\(UUID().uuidString.prefix(8).lowercased())",
                                host: node == nil ? environment["VEEM_TEST_AMQP_HOST"] ?? "127.0.0.1" : "127.0.0.1",
                                port: node?.port ?? environment["VEEM_TEST_AMQP_PORT"].flatMap(Int.init) ?? 5672,
                                node: node?.node, launcher: node?.launcher ?? [])
        try await broker.rabbitmqctl(["add_vhost", broker.vhost])
        try await broker.rabbitmqctl(["set_permissions", "-p", broker.vhost, "guest", ".*", ".*", ".*"])
        return broker
    }

    public func configuration(name: String, heartbeat: Int = 10) -> AMQPConfiguration {
        AMQPConfiguration(host: host, port: port, vhost: vhost, heartbeat: heartbeat, connectionName: name)
    }

    /// Declares the site's exchanges and the coordinator's queues, as the bus setup (`veemctl bus definitions`) does
    /// before anything runs, so that clients and agents may start before the coordinator.
    public func declareSiteTopology() async throws {
        let connection = AMQPConnection(configuration: configuration(name: "test-bus-setup"))
        defer { connection.close() }
        try await connection.declare(Topology.coordinator, once: true)
    }

    /// Drops every client connection of this vhost, as a broker restart or network cut would.
    public func closeAllConnections() async throws {
        try await rabbitmqctl(["close_all_connections", "-p", vhost, "veem test: connection dropped"])
    }

    /// Messages waiting (ready + unacked) in `queue`.
    public func depth(of queue: String) async throws -> Int? {
        let output = try await rabbitmqctl(["list_queues", "-p", vhost, "--no-table-headers", "-q", "name", "messages"])
        for line in output.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            if fields.count == 2, fields[0] == queue { return Int(fields[1]) }
        }
        return nil
    }

    public func delete() async {
        _ = try? await rabbitmqctl(["delete_vhost", vhost])
    }

    /// Runs rabbitmqctl against this broker's node.
    @discardableResult
    public func rabbitmqctl(_ arguments: [String]) async throws -> String {
        try await Self.rabbitmqctl((node.map { ["-n", $0] } ?? []) + arguments, launcher: launcher)
    }

    /// Runs rabbitmqctl (about half a second) off the cooperative pool.
    @discardableResult
    static func rabbitmqctl(_ arguments: [String], launcher: [String] = []) async throws -> String {
        let command = launcher + ["/usr/sbin/rabbitmqctl"] + arguments
        let result = try await ExternalCommand.run(command[0], Array(command.dropFirst()))
        guard result.status == 0 else {
            throw TestSupportError("rabbitmqctl \(arguments.joined(separator: " ")) failed: \(result.output)")
        }
        return result.output
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

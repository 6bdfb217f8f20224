import Foundation
import Messaging

/// A RabbitMQ vhost of its own for one test or benchmark run, made and removed with `rabbitmqctl`.
public struct TestBroker: Sendable {
    public let vhost: String
    public let host: String
    public let port: Int

    /// Creates a fresh vhost `veem-test-…` and lets `guest` use it.
    public static func fresh(label: String = "test") async throws -> TestBroker {
        let environment = ProcessInfo.processInfo.environment
        let broker = TestBroker(vhost: "veem-\(label)-\(UUID().uuidString.prefix(8).lowercased())",
                                host: environment["VEEM_TEST_AMQP_HOST"] ?? "127.0.0.1",
                                port: environment["VEEM_TEST_AMQP_PORT"].flatMap(Int.init) ?? 5672)
        try await rabbitmqctl(["add_vhost", broker.vhost])
        try await rabbitmqctl(["set_permissions", "-p", broker.vhost, "guest", ".*", ".*", ".*"])
        return broker
    }

    public func configuration(name: String, heartbeat: Int = 10) -> AMQPConfiguration {
        AMQPConfiguration(host: host, port: port, vhost: vhost, heartbeat: heartbeat, connectionName: name)
    }

    /// Drops every client connection of this vhost, as a broker restart or network cut would.
    public func closeAllConnections() async throws {
        try await Self.rabbitmqctl(["close_all_connections", "-p", vhost, "veem test: connection dropped"])
    }

    /// Messages waiting (ready + unacked) in `queue`.
    public func depth(of queue: String) async throws -> Int? {
        let output = try await Self.rabbitmqctl(["list_queues", "-p", vhost, "--no-table-headers", "-q", "name", "messages"])
        for line in output.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            if fields.count == 2, fields[0] == queue { return Int(fields[1]) }
        }
        return nil
    }

    public func delete() async {
        _ = try? await Self.rabbitmqctl(["delete_vhost", vhost])
    }

    /// Runs rabbitmqctl (about half a second) off the cooperative pool.
    @discardableResult
    static func rabbitmqctl(_ arguments: [String]) async throws -> String {
        let result = try await ExternalCommand.run("/usr/sbin/rabbitmqctl", arguments)
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

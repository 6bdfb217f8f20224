import Foundation

/// Where and how to reach the broker.
public struct AMQPConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var vhost: String
    public var user: String
    public var password: String
    /// Seconds between AMQP heartbeats; a silent broker is detected after two.
    public var heartbeat: Int
    /// Shown in the broker's connection list (`rabbitmqctl list_connections client_properties`).
    public var connectionName: String

    public init(host: String = "127.0.0.1", port: Int = 5672, vhost: String = "/", user: String = "guest",
                password: String = "guest", heartbeat: Int = 10, connectionName: String = "veem") {
        self.host = host
        self.port = port
        self.vhost = vhost
        self.user = user
        self.password = password
        self.heartbeat = heartbeat
        self.connectionName = connectionName
    }

    /// Parses `amqp://user:password@host:port/vhost` (vhost percent-encoded, as in RabbitMQ's URI spec).
    public init(url: String, connectionName: String = "veem") throws {
        guard let components = URLComponents(string: url), components.scheme == "amqp",
              let host = components.host, !host.isEmpty
        else { throw MessagingError.configuration("not an amqp:// URL: \(url)") }
        self.init(host: host, port: components.port ?? 5672,
                  vhost: components.percentEncodedPath.isEmpty
                      ? "/" : String(components.percentEncodedPath.dropFirst()).removingPercentEncoding ?? "/",
                  user: components.user ?? "guest", password: components.password ?? "guest",
                  connectionName: connectionName)
    }
}

public enum MessagingError: Error, Sendable, CustomStringConvertible {
    case configuration(String)
    /// The broker could not route a mandatory message to any queue.
    case unroutable(exchange: String, routingKey: String)
    /// The broker refused the message (basic.nack).
    case rejected
    /// An exchange of the site's topology does not exist yet: no coordinator ran and no bus setup declared it.
    case missingExchange(String)
    /// The broker closed the channel over this message: no such exchange, or the user may not publish it.
    case refused(String)
    case timedOut(String)
    case closed
    /// No connection could be made within the time allowed; `reason` is the last attempt's failure.
    case unreachable(broker: String, reason: String)

    public var description: String {
        switch self {
        case .configuration(let text): "configuration: \(text)"
        case .unroutable(let exchange, let key): "no queue is bound for '\(key)' on exchange '\(exchange)'"
        case .rejected: "the broker refused the message"
        case .missingExchange(let name):
            "exchange '\(name)' does not exist: start the coordinator once, or run the bus setup (veemctl bus definitions)"
        case .refused(let reason): "the broker refused the message: \(reason)"
        case .timedOut(let what): "timed out: \(what)"
        case .closed: "the connection is closed"
        case .unreachable(let broker, let reason): "cannot reach the broker at \(broker): \(reason)"
        }
    }
}

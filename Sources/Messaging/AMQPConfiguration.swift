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
    /// AMQPS: TLS to the broker, when set.
    public var tls: AMQPTLS?

    public init(host: String = "127.0.0.1", port: Int = 5672, vhost: String = "/", user: String = "guest",
                password: String = "guest", heartbeat: Int = 10, connectionName: String = "veem",
                tls: AMQPTLS? = nil) {
        self.tls = tls
        self.host = host
        self.port = port
        self.vhost = vhost
        self.user = user
        self.password = password
        self.heartbeat = heartbeat
        self.connectionName = connectionName
    }

    /// Parses `amqp://user:password@host:port/vhost` (vhost percent-encoded, as in RabbitMQ's URI spec), or
    /// `amqps://…` for TLS (port 5671 by default) with the spec's query parameters: `cacertfile` (the CA that signed
    /// the broker's certificate), `certfile` and `keyfile` (a client certificate), `verify` (`verify_peer`, the
    /// default, or `verify_none`).
    public init(url: String, connectionName: String = "veem") throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
              ["amqp", "amqps"].contains(scheme), let host = components.host, !host.isEmpty
        else { throw MessagingError.configuration("not an amqp:// or amqps:// URL: \(Self.redacted(url))") }
        let query = components.queryItems ?? []
        var tls: AMQPTLS?
        if scheme == "amqps" {
            tls = try AMQPTLS(query: query)
        } else if let item = query.first {
            throw MessagingError.configuration("'\(item.name)' in the broker URL needs amqps://")
        }
        self.init(host: host, port: components.port ?? (tls == nil ? 5672 : 5671),
                  vhost: components.percentEncodedPath.isEmpty
                      ? "/" : String(components.percentEncodedPath.dropFirst()).removingPercentEncoding ?? "/",
                  user: components.user ?? "guest", password: components.password ?? "guest",
                  connectionName: connectionName, tls: tls)
    }

    /// The URL without its password, for messages.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "REDACTED"
        return components.string ?? url
    }
}

/// TLS settings of an `amqps://` broker URL.
public struct AMQPTLS: Sendable, Equatable {
    /// PEM file of the CA(s) that may sign the broker's certificate; nil: the system's trusted CAs.
    public var caFile: String?
    /// PEM client certificate and key, for brokers that ask for one.
    public var certFile: String?
    public var keyFile: String?
    /// Whether the broker's certificate must chain to `caFile` and name the host connected to.
    public var verifyPeer: Bool

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, verifyPeer: Bool = true) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.verifyPeer = verifyPeer
    }

    init(query: [URLQueryItem]) throws {
        self.init()
        for item in query {
            let value = item.value ?? ""
            switch item.name {
            case "cacertfile": caFile = try Self.readable(value, item.name)
            case "certfile": certFile = try Self.readable(value, item.name)
            case "keyfile": keyFile = try Self.readable(value, item.name)
            case "verify":
                guard ["verify_peer", "verify_none"].contains(value) else {
                    throw MessagingError.configuration("verify in the broker URL must be verify_peer or verify_none, "
                                                       + "got '\(value)'")
                }
                verifyPeer = value == "verify_peer"
            default:
                throw MessagingError.configuration("unknown broker URL parameter '\(item.name)' (amqps:// takes "
                                                   + "cacertfile, certfile, keyfile, verify)")
            }
        }
        guard (certFile == nil) == (keyFile == nil) else {
            throw MessagingError.configuration("certfile and keyfile in the broker URL go together")
        }
    }

    private static func readable(_ path: String, _ name: String) throws -> String {
        guard !path.isEmpty, FileManager.default.isReadableFile(atPath: path) else {
            throw MessagingError.configuration("\(name) in the broker URL: cannot read '\(path)'")
        }
        return path
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

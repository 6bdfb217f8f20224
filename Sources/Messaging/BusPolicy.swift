import Foundation

/// Who speaks on a site's bus. Each role (and each agent) has a broker user of its own with the least rights it
/// needs, so that a leaked agent password cannot read another host's commands, publish as another host, or submit
/// requests.
public enum BusRole: Sendable, Hashable, CustomStringConvertible {
    case coordinator
    /// `veem-ec2`: EC2 calls and the account lookups that authenticate them.
    case gateway
    /// `veemctl`: every VMI request, and watching site events.
    case `operator`
    case agent(host: String)

    /// Parses `coordinator`, `gateway`, `operator` or `agent:HOST`.
    public init?(_ text: String) {
        switch text {
        case "coordinator": self = .coordinator
        case "gateway": self = .gateway
        case "operator": self = .operator
        default:
            guard text.hasPrefix("agent:"), case let host = String(text.dropFirst(6)), Topology.isHostID(host)
            else { return nil }
            self = .agent(host: host)
        }
    }

    public var description: String {
        switch self {
        case .coordinator: "coordinator"
        case .gateway: "gateway"
        case .operator: "operator"
        case .agent(let host): "agent:\(host)"
        }
    }
}

/// A RabbitMQ user's rights in the site's vhost: regular expressions over resource names (`rabbitmqctl
/// set_permissions`) and over routing keys on the events exchange (`set_topic_permissions`).
public struct BusGrant: Sendable, Equatable {
    public var configure: String
    public var write: String
    public var read: String
    /// Routing keys the user may publish on `Topology.eventsExchange`.
    public var eventsWrite: String
    /// Binding keys the user may bind a queue with on `Topology.eventsExchange`.
    public var eventsRead: String
}

/// The rights of each role, derived from `Topology`, and the broker definitions that set a site's bus up.
///
/// The rules RabbitMQ applies: declaring or deleting needs configure on the object; publishing needs write on the
/// exchange (the default exchange is `amq.default`, which reaches every queue by name, so only the coordinator has
/// it); consuming needs read on the queue; binding needs write on the queue and read on the exchange. A passive
/// declare needs nothing, which is how agents and clients check that the site's exchanges exist.
public enum BusPolicy {
    static let nothing = "^$"

    public static func grant(for role: BusRole) -> BusGrant {
        switch role {
        case .coordinator:
            return BusGrant(configure: "^veem\\.", write: "^(veem\\..*|amq\\.default)$", read: "^veem\\.",
                            eventsWrite: "^site\\.", eventsRead: ".*")
        case .gateway:
            return BusGrant(configure: "^veem\\.reply\\.", write: exact(Topology.requestsExchange),
                            read: "^veem\\.reply\\.", eventsWrite: nothing, eventsRead: nothing)
        case .operator:
            return BusGrant(configure: "^veem\\.(reply|watch)\\.",
                            write: "^(\(escape(Topology.requestsExchange))|veem\\.watch\\..*)$",
                            read: "^(veem\\.(reply|watch)\\..*|\(escape(Topology.eventsExchange)))$",
                            eventsWrite: nothing, eventsRead: ".*")
        case .agent(let host):
            let queue = exact(Topology.agentQueue(host))
            return BusGrant(configure: queue, write: exact(Topology.eventsExchange), read: queue,
                            eventsWrite: "^" + escape(Topology.hostReportKey(host, "")), eventsRead: nothing)
        }
    }

    /// A definitions document for `rabbitmqctl import_definitions`: the site's topology (`Topology.coordinator`)
    /// in `vhost`, and the permissions of `users` (which must exist: `rabbitmqctl add_user`).
    public static func definitions(vhost: String, users: [(name: String, role: BusRole)]) throws -> Data {
        var exchanges: [[String: Any]] = []
        var queues: [[String: Any]] = []
        var bindings: [[String: Any]] = []
        for declaration in Topology.coordinator {
            switch declaration {
            case .exchange(let name, let type, let durable):
                exchanges.append(["name": name, "vhost": vhost, "type": type, "durable": durable,
                                  "auto_delete": false, "internal": false, "arguments": [String: Any]()])
            case .queue(let name, let durable, _, let autoDelete, let arguments):
                queues.append(["name": name, "vhost": vhost, "durable": durable, "auto_delete": autoDelete,
                               "arguments": arguments.definition])
            case .binding(let queue, let exchange, let key):
                bindings.append(["source": exchange, "vhost": vhost, "destination": queue,
                                 "destination_type": "queue", "routing_key": key, "arguments": [String: Any]()])
            case .existingExchange:
                break
            }
        }
        let grants = users.map { ($0.name, grant(for: $0.role)) }
        let document: [String: Any] = [
            "vhosts": [["name": vhost]],
            "permissions": grants.map { name, grant in
                ["user": name, "vhost": vhost, "configure": grant.configure, "write": grant.write, "read": grant.read]
            },
            "topic_permissions": grants.map { name, grant in
                ["user": name, "vhost": vhost, "exchange": Topology.eventsExchange, "write": grant.eventsWrite,
                 "read": grant.eventsRead]
            },
            "exchanges": exchanges, "queues": queues, "bindings": bindings,
        ]
        return try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
    }

    static func exact(_ name: String) -> String { "^\(escape(name))$" }

    /// Every character but letters, digits and `_` escaped: literal in RabbitMQ's (PCRE) patterns.
    static func escape(_ text: String) -> String {
        text.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? String($0) : "\\\($0)" }.joined()
    }
}

extension QueueArguments {
    /// The arguments as a definitions document writes them.
    var definition: [String: Any] {
        var arguments: [String: Any] = [:]
        if quorum { arguments["x-queue-type"] = "quorum" }
        if let deliveryLimit { arguments["x-delivery-limit"] = deliveryLimit }
        if let deadLetterExchange { arguments["x-dead-letter-exchange"] = deadLetterExchange }
        return arguments
    }
}

/// One broker object to declare; the connection re-declares them all after every reconnect.
public enum Declaration: Sendable, Hashable {
    case exchange(name: String, type: String, durable: Bool)
    /// Checks that an exchange exists without declaring it (a passive declare, which needs no configure permission).
    case existingExchange(name: String)
    case queue(name: String, durable: Bool, exclusive: Bool, autoDelete: Bool, arguments: QueueArguments = .init())
    case binding(queue: String, exchange: String, routingKey: String)
}

/// The `x-` arguments of a queue veem uses.
public struct QueueArguments: Sendable, Hashable {
    /// `x-queue-type: quorum`: replicated, and counts each message's deliveries.
    public var quorum = false
    /// `x-delivery-limit` (quorum only): after this many deliveries a message is dead-lettered instead.
    public var deliveryLimit: Int?
    /// `x-dead-letter-exchange`: where rejected and over-delivered messages go.
    public var deadLetterExchange: String?

    public init(quorum: Bool = false, deliveryLimit: Int? = nil, deadLetterExchange: String? = nil) {
        self.quorum = quorum
        self.deliveryLimit = deliveryLimit
        self.deadLetterExchange = deadLetterExchange
    }
}

/// veem's exchanges, queues and routing keys, in one place.
///
/// - Requests (InitializeVEE, SubmitVEEs, VEEUpdate, monitoring) go to the durable queue `veem.coordinator.requests`
///   through exchange `veem.requests`; replies go to the requester's `reply_to` queue.
/// - Each agent consumes its own durable queue `veem.agent.<host>` bound to `veem.commands` with its host id. The
///   coordinator makes that binding when the host registers: an agent allowed to bind could bind its queue to
///   another host's key and read its commands.
/// - Agents publish reports on the topic exchange `veem.events` as `host.<host>.<kind>`; the coordinator publishes
///   site events there as `site.<kind>`. The coordinator reads host reports from its durable queue
///   `veem.coordinator.reports`; watchers bind their own exclusive queues.
/// - The site's topology (`site`) is declared by the coordinator, or beforehand by the bus setup
///   (`veemctl bus definitions`). Agents and clients only check that the exchanges they use exist, so that their
///   broker users need no right to declare, bind or delete shared objects (`BusPolicy`).
public enum Topology {
    public static let requestsExchange = "veem.requests"
    public static let commandsExchange = "veem.commands"
    public static let eventsExchange = "veem.events"
    public static let requestsQueue = "veem.coordinator.requests"
    public static let reportsQueue = "veem.coordinator.reports"
    public static let requestsKey = "request"
    /// How many times a request is delivered before the broker gives up on it (a request that keeps crashing or
    /// failing the coordinator); it is then dead-lettered to `deadLetterExchange`.
    public static let requestDeliveryLimit = 5
    public static let deadLetterExchange = "veem.dead"
    /// Requests given up on, as the broker dead-letters them; the coordinator logs and answers each, then parks it.
    public static let deadLetterQueue = "veem.coordinator.dead"
    /// Requests given up on and answered, kept for an operator to look at (`rabbitmqctl list_queues`, a shovel).
    public static let parkedQueue = "veem.coordinator.parked"

    /// Host ids that can name queues, routing keys and broker users: up to 63 ASCII letters, digits, `.`, `_` and
    /// `-`, starting with a letter or digit.
    public static func isHostID(_ text: String) -> Bool {
        text.utf8.count <= 63 && text.first.map { $0.isASCII && ($0.isLetter || $0.isNumber) } == true
            && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    public static func agentQueue(_ host: String) -> String { "veem.agent.\(host)" }
    public static func hostReportKey(_ host: String, _ kind: String) -> String { "host.\(host).\(kind)" }
    /// The host a report key (`host.<host>.<kind>`) was published under; nil for any other key.
    public static func reportHost(_ key: String) -> String? {
        guard key.hasPrefix("host."), let kind = key.lastIndex(of: "."), kind > key.index(key.startIndex, offsetBy: 5)
        else { return nil }
        return String(key[key.index(key.startIndex, offsetBy: 5)..<kind])
    }
    public static func siteEventKey(_ kind: String) -> String { "site.\(kind)" }

    /// The exchanges everyone relies on existing.
    public static let shared: [Declaration] = [
        .exchange(name: requestsExchange, type: "direct", durable: true),
        .exchange(name: commandsExchange, type: "direct", durable: true),
        .exchange(name: eventsExchange, type: "topic", durable: true),
    ]

    /// The durable queue of host reports, part of the site's topology so that a report sent before any coordinator
    /// ran waits for one instead of being dropped.
    public static let reports: [Declaration] = [
        .queue(name: reportsQueue, durable: true, exclusive: false, autoDelete: false),
        .binding(queue: reportsQueue, exchange: eventsExchange, routingKey: "host.#"),
    ]

    /// The site's topology: the shared exchanges and the coordinator's queues.
    public static let coordinator: [Declaration] = shared + reports + [
        .exchange(name: deadLetterExchange, type: "fanout", durable: true),
        .queue(name: deadLetterQueue, durable: true, exclusive: false, autoDelete: false),
        .binding(queue: deadLetterQueue, exchange: deadLetterExchange, routingKey: ""),
        .queue(name: parkedQueue, durable: true, exclusive: false, autoDelete: false),
        // A quorum queue counts deliveries, so a poison request ends in the dead-letter queue, not in a loop.
        .queue(name: requestsQueue, durable: true, exclusive: false, autoDelete: false,
               arguments: QueueArguments(quorum: true, deliveryLimit: requestDeliveryLimit,
                                         deadLetterExchange: deadLetterExchange)),
        .binding(queue: requestsQueue, exchange: requestsExchange, routingKey: requestsKey),
    ]

    /// What an agent declares or checks: that the events exchange exists, and its own command queue.
    public static func agent(_ host: String) -> [Declaration] {
        [.existingExchange(name: eventsExchange),
         .queue(name: agentQueue(host), durable: true, exclusive: false, autoDelete: false)]
    }

    /// An agent's command queue bound to its host id, which the coordinator declares when the host registers.
    public static func agentCommands(_ host: String) -> [Declaration] {
        [.queue(name: agentQueue(host), durable: true, exclusive: false, autoDelete: false),
         .binding(queue: agentQueue(host), exchange: commandsExchange, routingKey: host)]
    }

    /// A client's exclusive queue (replies, or a watcher's copy of events) and a check that `exchange` exists.
    public static func client(queue: String, exchange: String, bindingKey: String? = nil) -> [Declaration] {
        [.existingExchange(name: exchange), .queue(name: queue, durable: false, exclusive: true, autoDelete: true)]
            + (bindingKey.map { [.binding(queue: queue, exchange: exchange, routingKey: $0)] } ?? [])
    }
}

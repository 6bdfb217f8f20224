/// One broker object to declare; the connection re-declares them all after every reconnect.
public enum Declaration: Sendable, Hashable {
    case exchange(name: String, type: String, durable: Bool)
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
/// - Each agent consumes its own durable queue `veem.agent.<host>` bound to `veem.commands` with its host id.
/// - Agents publish reports on the topic exchange `veem.events` as `host.<host>.<kind>`; the coordinator publishes
///   site events there as `site.<kind>`. The coordinator reads host reports from its durable queue
///   `veem.coordinator.reports`; watchers bind their own exclusive queues.
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

    public static func agentQueue(_ host: String) -> String { "veem.agent.\(host)" }
    public static func hostReportKey(_ host: String, _ kind: String) -> String { "host.\(host).\(kind)" }
    public static func siteEventKey(_ kind: String) -> String { "site.\(kind)" }

    /// What everyone relies on existing.
    public static let shared: [Declaration] = [
        .exchange(name: requestsExchange, type: "direct", durable: true),
        .exchange(name: commandsExchange, type: "direct", durable: true),
        .exchange(name: eventsExchange, type: "topic", durable: true),
    ]

    /// The durable queue of host reports. Agents declare it too, so a report sent before any coordinator ever ran
    /// waits for one instead of being dropped.
    public static let reports: [Declaration] = [
        .queue(name: reportsQueue, durable: true, exclusive: false, autoDelete: false),
        .binding(queue: reportsQueue, exchange: eventsExchange, routingKey: "host.#"),
    ]

    /// The coordinator's own queues.
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

    /// An agent's command queue (and the reports queue it publishes into).
    public static func agent(_ host: String) -> [Declaration] {
        shared + reports + [
            .queue(name: agentQueue(host), durable: true, exclusive: false, autoDelete: false),
            .binding(queue: agentQueue(host), exchange: commandsExchange, routingKey: host),
        ]
    }
}

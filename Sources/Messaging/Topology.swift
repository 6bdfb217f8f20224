/// One broker object to declare; the connection re-declares them all after every reconnect.
public enum Declaration: Sendable, Hashable {
    case exchange(name: String, type: String, durable: Bool)
    case queue(name: String, durable: Bool, exclusive: Bool, autoDelete: Bool)
    case binding(queue: String, exchange: String, routingKey: String)
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
        .queue(name: requestsQueue, durable: true, exclusive: false, autoDelete: false),
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

import Cloud
import Daemon
import Foundation
import Inventory
import Logging
import Messaging
import ServiceLifecycle
import Synchronization
import VMI

/// The site's coordinator: takes VMI requests, places VEEs, commands agents, tracks hosts, and converges the
/// desired state kept in the inventory with what hosts report. It holds no state outside the inventory (but console
/// reads in flight, which clients retry), so a restart loses nothing: on start it re-sends every command not yet
/// carried out.
public final class CoordinatorService: Service {
    public let configuration: CoordinatorConfiguration
    let inventory: Inventory
    let connection: AMQPConnection
    let logger: Logger
    let onReady: @Sendable (String) -> Void
    let onProgress: @Sendable () -> Void
    let manifests = ManifestCache()
    let engine = ServiceEngineState()
    let consoleReads = ConsoleReads()
    /// Since when host reports have been committed without a failure: a coordinator that has just started, or is
    /// behind on a backlog of reports, has not yet read the heartbeats hosts sent.
    let reportsFlowing = Mutex<ContinuousClock.Instant?>(nil)
    let cloud: CloudEngine

    public init(configuration: CoordinatorConfiguration, inventory: Inventory, connection: AMQPConnection,
                logger: Logger = Logger(label: "veem.coordinator"),
                onReady: @escaping @Sendable (String) -> Void = { _ in },
                onProgress: @escaping @Sendable () -> Void = {}) {
        self.onProgress = onProgress
        self.configuration = configuration
        self.cloud = CloudEngine(site: configuration.cloud)
        self.inventory = inventory
        self.connection = connection
        self.logger = logger
        self.onReady = onReady
    }

    var sender: String { "coordinator/\(configuration.site)" }

    public func run() async throws {
        do {
            try await connection.declare(Topology.coordinator)
        } catch let error where "\(error)".contains("inequivalent arg")
                                    && "\(error)".contains("'\(Topology.requestsQueue)'") {
            throw UpgradeError(description: """
                \(Topology.requestsQueue) is a classic queue left by an older veem, and is now a quorum queue. \
                Let an older coordinator empty it, delete it (rabbitmqctl delete_queue -p \
                \(connection.configuration.vhost) \(Topology.requestsQueue)), then start this one. (\(error))
                """)
        }
        if configuration.requesters == nil {
            logger.notice("requests are not authorised by broker user (set VEEM_OPERATOR_USERS)",
                          metadata: ["exchange": "\(Topology.requestsExchange)"])
        }
        let resent = try await resendUnconverged()
        logger.info("coordinator ready", metadata: ["site": "\(configuration.site)", "resent": "\(resent)"])
        onReady("site \(configuration.site): \(resent) pending commands re-sent")
        try await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await self.consumeRequests() }
                group.addTask { await self.consumeDeadLetters() }
                group.addTask { await self.consumeReports() }
                group.addTask { await self.watchLiveness() }
                group.addTask { await self.runServices() }
            }
        }
    }

    /// Sends the VEE's desired state to its host's agent, in call order, without waiting for the confirm: the
    /// inventory already holds the truth, and a coordinator restart sends it again.
    func command(_ vee: VEEView) {
        let body = ConvergeVEE(vee: vee.id, spec: vee.spec, desired: vee.desired, generation: vee.generation,
                               shutdownTimeout: configuration.shutdownTimeout.seconds, reboots: vee.reboots,
                               interfaces: vee.interfaces)
        connection.post(Envelope(body: body, sender: sender), exchange: Topology.commandsExchange,
                        routingKey: vee.host, mandatory: true) { [logger] error in
            logger.error("command not delivered", metadata: ["vee": "\(vee.id)", "host": "\(vee.host)",
                                                             "error": "\(error)"])
        }
    }

    /// Tells a host the VXLAN peers of its networks. Level-triggered like `command`: the newest generation wins.
    func tellPeers(_ networks: HostNetworks) {
        connection.post(Envelope(body: networks, sender: sender), exchange: Topology.commandsExchange,
                        routingKey: networks.host, mandatory: true) { [logger] error in
            logger.error("network peers not delivered", metadata: ["host": "\(networks.host)", "error": "\(error)"])
        }
    }

    /// Publishes a site event for watchers.
    func announce(_ event: SiteEvent) {
        connection.post(Envelope(body: event, sender: sender), exchange: Topology.eventsExchange,
                        routingKey: Topology.siteEventKey(event.kind.rawValue.lowercased()), persistent: false)
    }

    /// Re-sends commands for VEEs whose host (up) has not reported the desired state: after a restart, whatever
    /// was committed but maybe not sent.
    func resendUnconverged() async throws -> Int {
        let pending = try await inventory.read { try $0.unconverged() }
        pending.forEach(command)
        return pending.count
    }

    /// How long a host may stay silent before it is judged DOWN.
    var livenessWindow: Duration { configuration.heartbeatInterval * configuration.missedHeartbeats }

    func watchLiveness() async {
        let interval = configuration.heartbeatInterval
        let window = livenessWindow
        var connections = connection.connectionCount
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            let now = Date()
            let cutoff = now.addingTimeInterval(-window.seconds)
            // A broker outage silences every host at once and is no host's failure: hosts are judged only once the
            // coordinator has heard the broker for a whole window.
            // Likewise a full disk: heartbeats that could not be recorded are no host's silence.
            // And only once reports have been read for a whole window (or, with no report at all, say every host
            // gone, after three), so that heartbeats still queued after a restart are not taken for silence.
            let connected = connection.connectedFor ?? .zero
            let reading = reportsFlowing.withLock { $0.map { ContinuousClock.now - $0 } }
            let judging = connected >= window && (reading.map { $0 >= window } ?? false || connected >= window * 3)
                && (inventory.writableFor.map { $0 >= window } ?? true)
            if connection.connectionCount != connections {
                // Reconnected: commands committed while the broker was away may have expired unsent.
                connections = connection.connectionCount
                if connections > 1, let resent = try? await resendUnconverged(), resent > 0 {
                    logger.info("commands sent again after reconnecting", metadata: ["count": "\(resent)"])
                }
            }
            do {
                let down = try await inventory.write { tx in
                    // Replies are kept for a day: long enough for any re-delivery or client retry. KPI history for an
                    // hour: the longest sensible rule window.
                    try tx.forgetReplies(before: now.addingTimeInterval(-86_400))
                    try tx.forgetHistory(before: now.addingTimeInterval(-3600))
                    try tx.forgetEvents(before: now.addingTimeInterval(-30 * 86_400))
                    return judging ? try tx.markHostsDown(silentSince: cutoff, at: now) : []
                }
                onProgress()
                for host in down {
                    logger.warning("host down", metadata: ["host": "\(host)"])
                    announce(SiteEvent(kind: .hostDown, host: host, message: "host \(host) missed its heartbeats"))
                }
            } catch is CancellationError {
                return  // shutting down: the unfinished transaction rolled back
            } catch {
                logger.error("liveness check failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// A broker left in a shape an older veem made, which an operator must change.
struct UpgradeError: Error, CustomStringConvertible {
    var description: String
}

import Cloud
import EC2
import Foundation
import Messaging
import Synchronization
import VMI

/// GetConsoleOutput: the coordinator asks the VEE's agent for its console and relays the answer to the gateway.
/// Agents answer through the coordinator, not straight to the gateway's reply queue, because a broker user that may
/// publish to any queue by name (the default exchange) could also forge requests and other hosts' commands.
extension CoordinatorService {
    /// Hands the read to the agent of the VEE's host. If no agent queue takes it, the gateway gets an empty console
    /// at once rather than a timeout.
    func readConsole(_ read: ConsoleRead, ec2RequestId: String, replyTo: String, correlationId: String) {
        consoleReads.expect(correlationId, from: read.host, replyTo: replyTo)
        let body = ConsoleOutputRequest(vee: read.vee, instanceId: read.instanceId, requestId: ec2RequestId,
                                        replyTo: replyTo, correlationId: correlationId)
        connection.post(Envelope(body: body, sender: sender), exchange: Topology.commandsExchange,
                        routingKey: read.host, mandatory: true, persistent: false) { [self] error in
            logger.warning("console read not delivered", metadata: ["host": "\(read.host)", "error": "\(error)"])
            guard consoleReads.take(correlationId, from: read.host) != nil else { return }
            let xml = EC2XML.consoleOutput(instanceId: read.instanceId, requestId: ec2RequestId, console: Data(),
                                           at: Date())
            connection.post(Envelope(body: EC2Reply(status: 200, xml: xml), sender: sender,
                                     correlationId: correlationId),
                            exchange: "", routingKey: replyTo, persistent: false)
        }
    }

    /// An agent's console answer (`host.<host>.console`): passed on to the gateway that asked, if that host was
    /// asked for it; anything else is dropped and logged.
    func relayConsole(_ delivery: Delivery) {
        guard let host = Topology.reportHost(delivery.routingKey), let message = try? VMI.open(delivery.body),
              message.body is EC2Reply, let correlationId = message.header.correlationId,
              let replyTo = consoleReads.take(correlationId, from: host)
        else {
            logger.warning("unexpected console answer dropped",
                           metadata: ["key": "\(delivery.routingKey)", "user": "\(delivery.properties.userId ?? "")"])
            return
        }
        connection.post(exchange: "", routingKey: replyTo, body: delivery.body,
                        properties: MessageProperties(correlationId: correlationId, type: message.type.rawValue,
                                                      persistent: false),
                        completion: { _ in })
    }
}

/// Console reads sent to agents and not yet answered: correlation id → the host asked and the gateway's queue.
/// Kept in memory only: after a coordinator restart the gateway's wait times out and the client asks again.
final class ConsoleReads: Sendable {
    private struct Pending {
        var host: String
        var replyTo: String
        var since: ContinuousClock.Instant
    }

    private let pending = Mutex<[String: Pending]>([:])
    /// Longer than any gateway waits.
    private let lifetime = Duration.seconds(120)

    func expect(_ correlationId: String, from host: String, replyTo: String) {
        let now = ContinuousClock.now
        pending.withLock { pending in
            pending = pending.filter { now - $0.value.since < lifetime }
            pending[correlationId] = Pending(host: host, replyTo: replyTo, since: now)
        }
    }

    /// The reply queue, if `host` was asked under `correlationId` (and forgets it: one answer each).
    func take(_ correlationId: String, from host: String) -> String? {
        pending.withLock { pending in
            guard let found = pending[correlationId], found.host == host else { return nil }
            pending[correlationId] = nil
            return found.replyTo
        }
    }
}

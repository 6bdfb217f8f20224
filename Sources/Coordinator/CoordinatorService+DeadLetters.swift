import Foundation
import Messaging
import VMI

/// Requests the broker gave up on (delivered `Topology.requestDeliveryLimit` times without an ack, or rejected):
/// each is logged, answered with an error where it has a reply address, and parked for an operator.
extension CoordinatorService {
    func consumeDeadLetters() async {
        for await delivery in connection.consume(queue: Topology.deadLetterQueue, prefetch: 16) {
            let header = try? VMI.decodeHeader(delivery.body)
            let id = header?.0.id ?? delivery.properties.messageId ?? "unknown"
            let type = header?.1.rawValue ?? delivery.properties.type ?? "unknown"
            if delivery.properties.deathReason == "expired" {
                // Its sender gave up waiting before any coordinator took it: nobody to answer, nothing to keep.
                logger.notice("request expired in the queue before it was handled; dropped",
                              metadata: ["request": "\(id)", "type": "\(type)"])
                connection.ack(delivery)
                continue
            }
            logger.error("request given up after repeated failures; parked",
                         metadata: ["request": "\(id)", "type": "\(type)", "queue": "\(Topology.parkedQueue)",
                                    "replyTo": "\(delivery.properties.replyTo ?? "none")"])
            if let replyTo = delivery.properties.replyTo {
                let error = VMIError(code: .internalError,
                                     message: "the coordinator failed on this request \(Topology.requestDeliveryLimit) "
                                         + "times and gave up; it is kept in \(Topology.parkedQueue) for an operator")
                connection.post(exchange: "", routingKey: replyTo, body: encodeError([error], to: id),
                                properties: MessageProperties(correlationId: id, persistent: false)) { _ in }
            }
            do {
                // Parked before the ack: a crash in between parks it twice rather than losing it.
                try await connection.publish(exchange: "", routingKey: Topology.parkedQueue, body: delivery.body,
                                             properties: delivery.properties)
                connection.ack(delivery)
            } catch {
                logger.error("dead letter not parked", metadata: ["request": "\(id)", "error": "\(error)"])
                connection.reject(delivery, requeue: true)
            }
        }
    }
}

import Foundation

/// AMQP message properties veem uses.
public struct MessageProperties: Sendable, Equatable {
    public var messageId: String?
    public var correlationId: String?
    public var replyTo: String?
    /// The VMI message type, so tools can route without parsing the body.
    public var type: String?
    public var persistent: Bool
    /// AMQP `expiration`: the broker drops (dead-letters) the message once it has waited this long in a queue,
    /// timed by the broker's clock.
    public var expiration: Duration?
    /// Why the broker dead-lettered it (`x-first-death-reason`: rejected, expired, delivery_limit), when it did.
    public var deathReason: String?
    /// AMQP `user-id` of a delivery: the broker refuses a publish whose user-id is not the publisher's login, so this
    /// names who sent it. Every publish of veem's carries its connection's user (set by the session, not here).
    public var userId: String?

    public init(messageId: String? = nil, correlationId: String? = nil, replyTo: String? = nil,
                type: String? = nil, persistent: Bool = true, expiration: Duration? = nil,
                deathReason: String? = nil, userId: String? = nil) {
        self.userId = userId
        self.expiration = expiration
        self.deathReason = deathReason
        self.messageId = messageId
        self.correlationId = correlationId
        self.replyTo = replyTo
        self.type = type
        self.persistent = persistent
    }
}

/// A message taken from a queue. Ack it after the work it asks for is done; unacked messages come back after a
/// reconnect or a consumer's death.
public struct Delivery: Sendable {
    public var body: [UInt8]
    public var exchange: String
    public var routingKey: String
    public var properties: MessageProperties
    public var redelivered: Bool
    /// Deliveries before this one that did not end in an ack (`x-delivery-count`, which quorum queues keep).
    public var previousDeliveries: Int = 0
    let tag: UInt64
    /// The connection epoch it arrived on; an ack for an older epoch is void (the broker already re-queued it).
    let epoch: UInt64
}

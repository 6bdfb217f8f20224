import BlockingIO
import Foundation
import Logging

/// A self-healing broker connection. One dedicated thread owns the C connection (rabbitmq-c is not thread-safe);
/// callers hand it work through a queue and are woken when the broker answers.
///
/// - `publish` returns once the broker confirmed the message (publisher confirms). Messages not yet confirmed when
///   the connection drops are sent again after reconnecting, so delivery is at-least-once: receivers deduplicate by
///   message id.
/// - Declarations and consumers are re-established after every reconnect; deliveries not acked by then come back.
public final class AMQPConnection: @unchecked Sendable {
    public let configuration: AMQPConfiguration
    let logger: Logger
    let lock = NSLock()
    // Guarded by `lock`:
    var outbox: [Work] = []
    var declarations: [Declaration] = []
    var consumers: [String: Consumer] = [:]
    var stopped = false
    /// The IO thread is (about to be) blocked in poll and needs the wake pipe to see new work.
    var sleeping = false
    var connectedEpoch: UInt64 = 0
    /// When the current connection came up; nil while there is none.
    var connectedSince: ContinuousClock.Instant?
    var connectionWaiters: [ConnectionWaiter] = []
    /// Why the last connection attempt failed, for callers that give up waiting.
    var lastConnectError: String?
    // Owned by the IO thread:
    var session: AMQPSession?
    var epoch: UInt64 = 0
    var unconfirmed: [UInt64: PendingPublish] = [:]
    var returnedIds: Set<String> = []
    /// Consumers started on the current session: a consumer queued before a reconnect is started by the reconnect,
    /// and starting it twice closes the channel ("attempt to reuse consumer tag").
    var startedConsumers: Set<String> = []
    var backoff = Backoff(initial: .milliseconds(50), maximum: .seconds(2))
    let wake = WakeSignal()
    var thread: Thread?

    /// Connects in the background; calls made before the connection is up wait for it.
    public init(configuration: AMQPConfiguration, declarations: [Declaration] = [], logger: Logger? = nil) {
        self.configuration = configuration
        self.declarations = declarations
        self.logger = logger ?? Logger(label: "veem.amqp")
        let thread = Thread { [self] in self.runLoop() }
        thread.name = "amqp-\(configuration.connectionName)"
        self.thread = thread
        thread.start()
    }

    /// Closes the connection; pending work fails with `MessagingError.closed` and consumer streams finish.
    public func close() {
        lock.withLock { stopped = true }
        wake.signal()
    }

    /// Publishes and waits for the broker's confirm. With `mandatory`, a message no queue takes fails as
    /// `MessagingError.unroutable`.
    public func publish(exchange: String, routingKey: String, body: [UInt8], properties: MessageProperties = .init(),
                        mandatory: Bool = false, timeout: Duration = .seconds(30)) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            post(exchange: exchange, routingKey: routingKey, body: body, properties: properties, mandatory: mandatory,
                 timeout: timeout) { continuation.resume(with: $0) }
        }
    }

    /// Queues a publish at once, in call order, and reports the broker's confirm (or the failure) to `completion`
    /// on the IO thread. For senders that must keep order without waiting for each confirm.
    public func post(exchange: String, routingKey: String, body: [UInt8], properties: MessageProperties = .init(),
                     mandatory: Bool = false, timeout: Duration = .seconds(30),
                     completion: @escaping @Sendable (Result<Void, Error>) -> Void) {
        enqueue(.publish(PendingPublish(exchange: exchange, routingKey: routingKey, body: body,
                                        properties: properties, mandatory: mandatory,
                                        deadline: ContinuousClock.now + timeout, completion: completion)))
    }

    /// Declares `items` now and, unless `once` (durable objects that outlive connections), after every reconnect.
    public func declare(_ items: [Declaration], once: Bool = false) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            enqueue(.declare(items, once: once, continuation))
        }
    }

    /// Declares `items` once the site's exchanges they check (`Declaration.existingExchange`) exist: a daemon may
    /// start before any coordinator has run, and its broker user may not declare them itself.
    public func declareWhenSiteExists(_ items: [Declaration]) async throws {
        var backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(5))
        var warned = false
        while true {
            do {
                return try await declare(items)
            } catch MessagingError.missingExchange(let name) {
                if !warned {
                    logger.warning("waiting for the site's exchanges (the coordinator or the bus setup declares them)",
                                   metadata: ["missing": "\(name)"])
                    warned = true
                }
                try await Task.sleep(for: backoff.next())
            }
        }
    }

    /// Consumes `queue`. The stream lives across reconnects and ends when the connection is closed.
    /// With `noAck`, the broker forgets each message once sent (for watchers that may lose messages).
    public func consume(queue: String, prefetch: UInt16 = 100, noAck: Bool = false) -> AsyncStream<Delivery> {
        let (stream, continuation) = AsyncStream.makeStream(of: Delivery.self, bufferingPolicy: .unbounded)
        let tag = startConsumer(queue: queue, prefetch: prefetch, noAck: noAck,
                                deliver: { continuation.yield($0) }, finish: { continuation.finish() })
        continuation.onTermination = { [weak self] _ in self?.stopConsumer(tag) }
        return stream
    }

    /// Consumes `queue` in batches: each `next` returns every delivery buffered by then (at least one), so the
    /// receiver can commit a whole batch in one transaction.
    public func consumeBatches(queue: String, prefetch: UInt16 = 512) -> DeliveryBatches {
        let batches = DeliveryBatches()
        let tag = startConsumer(queue: queue, prefetch: prefetch, noAck: false,
                                deliver: batches.append, finish: batches.finish)
        batches.onCancel = { [weak self] in self?.stopConsumer(tag) }
        return batches
    }

    private func startConsumer(queue: String, prefetch: UInt16, noAck: Bool,
                               deliver: @escaping @Sendable (Delivery) -> Void,
                               finish: @escaping @Sendable () -> Void) -> String {
        let tag = "veem-\(UUID().uuidString.prefix(8).lowercased())"
        let consumer = Consumer(tag: tag, queue: queue, prefetch: prefetch, noAck: noAck, deliver: deliver,
                                finish: finish)
        lock.withLock { consumers[tag] = consumer }
        enqueue(.startConsumer(tag))
        return tag
    }

    private func stopConsumer(_ tag: String) {
        _ = lock.withLock { consumers.removeValue(forKey: tag) }
    }

    /// Acknowledges a delivery: the work it asked for is done.
    public func ack(_ delivery: Delivery) { enqueue(.ack(delivery.tag, delivery.epoch)) }

    /// Gives a delivery back: re-queued for another try when `requeue`, dropped otherwise.
    public func reject(_ delivery: Delivery, requeue: Bool) {
        enqueue(.nack(delivery.tag, delivery.epoch, requeue))
    }

    /// Waits until the connection is (re-)established. With a `timeout`, throws `MessagingError.unreachable` with the
    /// last attempt's failure once it has passed; throws `MessagingError.closed` when the connection is closed.
    public func waitUntilConnected(timeout: Duration? = nil) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let ready = lock.withLock { () -> Result<Void, Error>? in
                if connectedEpoch != 0 { return .success(()) }
                if stopped { return .failure(MessagingError.closed) }
                connectionWaiters.append(ConnectionWaiter(continuation: continuation,
                                                          deadline: timeout.map { ContinuousClock.now + $0 }))
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    /// How many times the connection was established (1 after the first connect).
    public var connectionCount: UInt64 { lock.withLock { connectedEpoch } }

    /// How long the current connection has been up; nil while the broker is out of reach.
    public var connectedFor: Duration? { lock.withLock { connectedSince.map { ContinuousClock.now - $0 } } }

    func enqueue(_ work: Work) {
        let (refused, asleep) = lock.withLock { () -> (Bool, Bool) in
            if stopped { return (true, false) }
            outbox.append(work)
            defer { sleeping = false }
            return (false, sleeping)
        }
        if refused { work.fail(MessagingError.closed) } else if asleep { wake.signal() }
    }
}

/// Work handed to the IO thread.
enum Work {
    case publish(PendingPublish)
    case declare([Declaration], once: Bool, CheckedContinuation<Void, Error>)
    case startConsumer(String)
    case ack(UInt64, UInt64)
    case nack(UInt64, UInt64, Bool)

    func fail(_ error: Error) {
        switch self {
        case .publish(let pending): pending.completion(.failure(error))
        case .declare(_, _, let continuation): continuation.resume(throwing: error)
        case .startConsumer, .ack, .nack: break
        }
    }
}

struct PendingPublish {
    var exchange: String
    var routingKey: String
    var body: [UInt8]
    var properties: MessageProperties
    var mandatory: Bool
    var deadline: ContinuousClock.Instant
    var completion: @Sendable (Result<Void, Error>) -> Void
}

/// A caller waiting for the connection, until `deadline` if it has one.
struct ConnectionWaiter {
    var continuation: CheckedContinuation<Void, Error>
    var deadline: ContinuousClock.Instant?
}

struct Consumer {
    var tag: String
    var queue: String
    var prefetch: UInt16
    var noAck: Bool
    /// Called on the IO thread for each delivery.
    var deliver: @Sendable (Delivery) -> Void
    var finish: @Sendable () -> Void
}

import Foundation
import Messaging
import VMI

/// A requester of the VMI over AMQP, as any client could be: requests go to the coordinator's queue, replies come to
/// this client's own exclusive queue, matched by correlation id.
public final class VeemClient: @unchecked Sendable {
    public let connection: AMQPConnection
    public let sender: String
    let replyQueue: String
    private let lock = NSLock()
    private var waiting: [String: Waiter] = [:]
    private var consumer: Task<Void, Never>?
    private var expiry: Task<Void, Never>?

    /// A request waiting for its reply until `deadline`.
    private struct Waiter {
        var continuation: CheckedContinuation<[UInt8], Error>
        var deadline: ContinuousClock.Instant
        var what: String
    }

    public init(connection: AMQPConnection, sender: String = "veemctl@\(ProcessInfo.processInfo.hostName)") {
        self.connection = connection
        self.sender = sender
        self.replyQueue = "veem.reply.\(UUID().uuidString.lowercased())"
    }

    /// Declares the reply queue and starts reading replies. With `waitForSite`, waits until the site's requests
    /// exchange exists (a daemon started before the coordinator); without, a missing one fails at once.
    public func start(waitForSite: Bool = false) async throws {
        let declarations = Topology.client(queue: replyQueue, exchange: Topology.requestsExchange)
        if waitForSite {
            try await connection.declareWhenSiteExists(declarations)
        } else {
            try await connection.declare(declarations)
        }
        let replies = connection.consume(queue: replyQueue, prefetch: 1000, noAck: true)
        consumer = Task { [weak self] in
            for await delivery in replies {
                guard let self, let id = delivery.properties.correlationId else { continue }
                let waiter = self.lock.withLock { self.waiting.removeValue(forKey: id) }
                waiter?.continuation.resume(returning: delivery.body)
            }
        }
        // One clock for every request's timeout, rather than a sleeping task per request.
        expiry = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                self?.expire(now: .now)
            }
        }
    }

    public func stop() {
        consumer?.cancel()
        expiry?.cancel()
        connection.close()
    }

    private func expire(now: ContinuousClock.Instant) {
        let expired = lock.withLock { () -> [Waiter] in
            let ids = waiting.filter { $0.value.deadline <= now }.map(\.key)
            return ids.compactMap { waiting.removeValue(forKey: $0) }
        }
        for waiter in expired { waiter.continuation.resume(throwing: VeemClientError.timedOut(waiter.what)) }
    }

    /// Sends a request and returns the raw reply envelope. `id` lets a caller retry with the same message id
    /// (the coordinator answers a repeated id with its recorded reply).
    public func requestRaw<Body: VMIBody>(_ body: Body, id: String = RandomID.uuid(),
                                          timeout: Duration = .seconds(30)) async throws -> [UInt8] {
        try await requestBytes(VMI.encode(Envelope(body: body, sender: sender, id: id)), id: id,
                               what: Body.messageType.rawValue, timeout: timeout)
    }

    /// Sends any bytes as a request with message id `id` and waits for the reply that names it. Tools and tests
    /// use it to send what the typed API cannot (malformed messages, other versions).
    public func requestBytes(_ bytes: [UInt8], id: String, what: String = "request",
                             timeout: Duration = .seconds(30)) async throws -> [UInt8] {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                lock.withLock {
                    waiting[id] = Waiter(continuation: continuation, deadline: .now + timeout, what: what)
                }
                // Cancelled before the waiter existed: the handler below found nothing to fail.
                if Task.isCancelled {
                    fail(id, with: CancellationError())
                    return
                }
                connection.post(exchange: Topology.requestsExchange, routingKey: Topology.requestsKey, body: bytes,
                                // Past the timeout nobody waits for it: the broker drops it rather than let it
                                // run late (a coordinator away or stuck), timed by its own clock.
                                properties: MessageProperties(messageId: id, replyTo: replyQueue,
                                                              expiration: timeout),
                                mandatory: true) { result in
                    if case .failure(let error) = result { self.fail(id, with: error) }
                }
            }
        } onCancel: {
            fail(id, with: CancellationError())
        }
    }

    /// Sends a request and decodes the expected reply type; an ErrorReply throws `VeemClientError.refused`.
    public func request<Body: VMIBody, Reply: VMIBody>(_ body: Body, expecting _: Reply.Type,
                                                       timeout: Duration = .seconds(30)) async throws -> Reply {
        let message = try VMI.open(try await requestRaw(body, timeout: timeout))
        if let refusal = message.body as? ErrorReply { throw VeemClientError.refused(refusal.errors) }
        return try message.body(as: Reply.self)
    }

    private func fail(_ id: String, with error: Error) {
        let waiter = lock.withLock { waiting.removeValue(forKey: id) }
        waiter?.continuation.resume(throwing: error)
    }
}

public enum VeemClientError: Error, CustomStringConvertible {
    case refused([VMIError])
    case timedOut(String)

    public var description: String {
        switch self {
        case .refused(let errors): errors.map(\.description).joined(separator: "\n")
        case .timedOut(let what): "no answer to \(what) in time (is veem-coordinator running?)"
        }
    }
}

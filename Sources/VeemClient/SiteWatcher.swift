import Foundation
import Messaging
import VMI

/// Follows the site's events (`veem.events`) on an exclusive queue: for `veemctl watch`, and to wait for a VEE to
/// reach a state without polling.
public final class SiteWatcher: @unchecked Sendable {
    public let events: AsyncStream<(MessageHeader, MessageType, [UInt8])>
    private let lock = NSLock()
    private var observed: [String: VEEState] = [:]
    private var waiters: [(id: UUID, vee: String, states: Set<VEEState>,
                           continuation: CheckedContinuation<VEEState, Error>)] = []
    private var fanout: AsyncStream<(MessageHeader, MessageType, [UInt8])>.Continuation?

    /// Binds an exclusive queue to `routingKey` on the events exchange (`#` for everything, `site.#` for the
    /// coordinator's events only).
    public static func start(_ connection: AMQPConnection, routingKey: String = "#") async throws -> SiteWatcher {
        let queue = "veem.watch.\(UUID().uuidString.lowercased())"
        try await connection.declare(Topology.shared + [
            .queue(name: queue, durable: false, exclusive: true, autoDelete: true),
            .binding(queue: queue, exchange: Topology.eventsExchange, routingKey: routingKey),
        ])
        return SiteWatcher(connection.consume(queue: queue, prefetch: 1000, noAck: true))
    }

    private init(_ deliveries: AsyncStream<Delivery>) {
        let (stream, continuation) = AsyncStream.makeStream(of: (MessageHeader, MessageType, [UInt8]).self)
        events = stream
        fanout = continuation
        Task { [weak self] in
            for await delivery in deliveries {
                guard let self, let (header, type) = try? VMI.decodeHeader(delivery.body) else { continue }
                self.note(type, delivery.body)
                self.fanout?.yield((header, type, delivery.body))
            }
        }
    }

    /// Waits until the coordinator announces `vee` (by id) in one of `states`; `current` is what the caller already
    /// knows (from a reply or a site report), so a state reached before the wait began still counts.
    public func wait(for vee: String, toReach states: Set<VEEState>, current: VEEState? = nil,
                     timeout: Duration = .seconds(60)) async throws -> VEEState {
        let id = UUID()
        return try await withThrowingTaskGroup(of: VEEState.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { continuation in
                    let done: VEEState? = self.lock.withLock {
                        if let state = self.observed[vee] ?? current, states.contains(state) { return state }
                        self.waiters.append((id, vee, states, continuation))
                        return nil
                    }
                    if let done { continuation.resume(returning: done) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                let last = self.lock.withLock { self.observed[vee] }
                let error = VeemClientError.timedOut("VEE \(vee) reaching \(states.map(\.rawValue).sorted().joined(separator: "/"))"
                    + " (last seen \(last?.rawValue ?? "nothing"))")
                let waiter = self.lock.withLock { () -> CheckedContinuation<VEEState, Error>? in
                    guard let index = self.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return self.waiters.remove(at: index).continuation
                }
                waiter?.resume(throwing: error)
                throw error
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private func note(_ type: MessageType, _ body: [UInt8]) {
        guard type == .siteEvent, let event = try? VMI.decode(SiteEvent.self, from: body).body,
              let vee = event.vee, let state = event.state, event.kind != .veePlaced
        else { return }
        let ready = lock.withLock { () -> [CheckedContinuation<VEEState, Error>] in
            observed[vee] = state
            let (matched, rest) = (waiters.filter { $0.vee == vee && $0.states.contains(state) },
                                   waiters.filter { !($0.vee == vee && $0.states.contains(state)) })
            waiters = rest
            return matched.map(\.continuation)
        }
        ready.forEach { $0.resume(returning: state) }
    }
}

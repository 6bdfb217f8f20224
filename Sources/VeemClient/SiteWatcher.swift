import Foundation
import Messaging
import VMI

/// Follows the site's events (`veem.events`) on an exclusive queue: for `veemctl watch`, and to wait for a VEE or a
/// host to reach a state without polling.
public final class SiteWatcher: @unchecked Sendable {
    public let events: AsyncStream<Message>
    private let lock = NSLock()
    /// The coordinator's events seen so far (the newest 10,000).
    private var history: [SiteEvent] = []
    /// The last state announced for each VEE, and whether each host was last announced up.
    private var veeStates: [String: VEEState] = [:]
    private var hostsUp: [String: Bool] = [:]
    private var serviceStates: [String: ServiceState] = [:]
    private var waiters: [(id: UUID, matches: @Sendable (SiteEvent) -> Bool,
                           continuation: CheckedContinuation<SiteEvent, Error>)] = []
    private var fanout: AsyncStream<Message>.Continuation?

    /// Binds an exclusive queue to `routingKey` on the events exchange (`#` for everything, `site.#` for the
    /// coordinator's events only).
    public static func start(_ connection: AMQPConnection, routingKey: String = "#") async throws -> SiteWatcher {
        let queue = "veem.watch.\(UUID().uuidString.lowercased())"
        try await connection.declare(Topology.client(queue: queue, exchange: Topology.eventsExchange,
                                                     bindingKey: routingKey))
        return SiteWatcher(connection.consume(queue: queue, prefetch: 1000, noAck: true))
    }

    private init(_ deliveries: AsyncStream<Delivery>) {
        let (stream, continuation) = AsyncStream.makeStream(of: Message.self, bufferingPolicy: .bufferingNewest(10_000))
        events = stream
        fanout = continuation
        Task { [weak self] in
            for await delivery in deliveries {
                guard let self, let message = try? VMI.open(delivery.body) else { continue }
                if let event = message.body as? SiteEvent { self.note(event) }
                self.fanout?.yield(message)
            }
        }
    }

    /// Waits until the coordinator announces `vee` (by id) in one of `states`. `current` is what the caller already
    /// knows (from a reply), so a state reached before the wait began still counts.
    public func wait(for vee: String, toReach states: Set<VEEState>, current: VEEState? = nil,
                     timeout: Duration = .seconds(60)) async throws -> VEEState {
        let what = "VEE \(vee) reaching \(states.map(\.rawValue).sorted().joined(separator: "/"))"
        let event = try await wait(timeout: timeout, what: what) { _ in
            guard let last = self.veeStates[vee] ?? current, states.contains(last) else { return nil }
            return SiteEvent(kind: .veeStateChanged, vee: vee, state: last, message: "")
        } matching: { event in
            event.vee == vee && event.kind != .veePlaced && event.state.map(states.contains) == true
        }
        return event.state!
    }

    /// Waits until the coordinator announces `service` in one of `states`.
    public func wait(forService service: String, toReach states: Set<ServiceState>,
                     timeout: Duration = .seconds(60)) async throws -> ServiceState {
        let what = "service \(service) reaching \(states.map(\.rawValue).sorted().joined(separator: "/"))"
        let event = try await wait(timeout: timeout, what: what) { _ in
            guard let state = self.serviceStates[service], states.contains(state) else { return nil }
            return SiteEvent(kind: .serviceStateChanged, message: "", service: service, serviceState: state)
        } matching: { $0.service == service && $0.serviceState.map(states.contains) == true }
        return event.serviceState!
    }

    /// Waits until the coordinator announces host `host` up or down.
    public func wait(forHost host: String, up: Bool, timeout: Duration = .seconds(60)) async throws {
        let kind: SiteEvent.Kind = up ? .hostUp : .hostDown
        _ = try await wait(timeout: timeout, what: "host \(host) \(up ? "up" : "down")") { _ in
            self.hostsUp[host] == up ? SiteEvent(kind: kind, host: host, message: "") : nil
        } matching: { $0.host == host && $0.kind == kind }
    }

    /// Waits for an event: `satisfied` looks at what was seen first (called under the same lock that registers the
    /// waiter, so nothing slips between), then `matching` at each new event.
    public func wait(timeout: Duration, what: String, satisfied: @escaping @Sendable ([SiteEvent]) -> SiteEvent?,
                     matching: @escaping @Sendable (SiteEvent) -> Bool) async throws -> SiteEvent {
        let id = UUID()
        return try await withThrowingTaskGroup(of: SiteEvent.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { continuation in
                    let done: SiteEvent? = self.lock.withLock {
                        if let event = satisfied(self.history) { return event }
                        self.waiters.append((id, matching, continuation))
                        return nil
                    }
                    if let done { continuation.resume(returning: done) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                let error = VeemClientError.timedOut(what)
                let waiter = self.lock.withLock { () -> CheckedContinuation<SiteEvent, Error>? in
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

    /// Every event seen so far, oldest first.
    public var seen: [SiteEvent] { lock.withLock { history } }

    private func note(_ event: SiteEvent) {
        let ready = lock.withLock { () -> [CheckedContinuation<SiteEvent, Error>] in
            history.append(event)
            if history.count > 12_000 { history.removeFirst(history.count - 10_000) }
            if let vee = event.vee, let state = event.state, event.kind != .veePlaced { veeStates[vee] = state }
            if let service = event.service, let state = event.serviceState { serviceStates[service] = state }
            if event.kind == .hostUp || event.kind == .hostDown, let host = event.host {
                hostsUp[host] = event.kind == .hostUp
            }
            let matched = waiters.filter { $0.matches(event) }
            waiters.removeAll { $0.matches(event) }
            return matched.map(\.continuation)
        }
        ready.forEach { $0.resume(returning: event) }
    }
}

import Foundation
import VMI

/// The IO thread: connect, send queued work, read frames, reconnect on any failure.
extension AMQPConnection {
    func runLoop() {
        var nextAttempt = ContinuousClock.now
        while true {
            if lock.withLock({ stopped }) {
                shutDown()
                return
            }
            guard let session else {
                if ContinuousClock.now >= nextAttempt {
                    connect()
                    if self.session == nil { nextAttempt = ContinuousClock.now + backoff.next() }
                } else {
                    lock.withLock { sleeping = true }
                    wake.wait(socket: nil, milliseconds: 50)
                    lock.withLock { sleeping = false }
                }
                expireDeadlines()
                expireConnectionWaiters()
                continue
            }
            do {
                try sendOutbox(on: session)
                for _ in 0..<512 {
                    let frame = try session.read()
                    if case .nothing = frame { break }
                    try handle(frame)
                }
                expireDeadlines()
                // Announce the sleep under the lock that guards the outbox: `enqueue` then writes to the wake pipe
                // only while this thread sleeps, not once per message.
                let idle = !session.hasBufferedFrames && lock.withLock {
                    sleeping = outbox.isEmpty
                    return sleeping
                }
                if idle {
                    wake.wait(socket: session.socketDescriptor, milliseconds: 1000)
                    lock.withLock { sleeping = false }
                }
            } catch {
                drop(reason: "\(error)")
                nextAttempt = ContinuousClock.now + backoff.next()
            }
        }
    }

    private func connect() {
        epoch += 1
        do {
            let session = try AMQPSession(configuration: configuration, epoch: epoch)
            let (declarations, consumers) = lock.withLock { (self.declarations, Array(self.consumers.values)) }
            for declaration in declarations { try session.declare(declaration) }
            startedConsumers = []
            for consumer in consumers {
                try session.consume(queue: consumer.queue, consumerTag: consumer.tag, prefetch: consumer.prefetch,
                                    noAck: consumer.noAck)
                startedConsumers.insert(consumer.tag)
            }
            self.session = session
            backoff.reset()
            let waiters = lock.withLock { () -> [ConnectionWaiter] in
                connectedEpoch += 1
                connectedSince = .now
                lastConnectError = nil
                defer { connectionWaiters.removeAll() }
                return connectionWaiters
            }
            waiters.forEach { $0.continuation.resume() }
            logger.info("connected to broker", metadata: ["host": "\(configuration.host)", "epoch": "\(epoch)"])
        } catch {
            lock.withLock { lastConnectError = "\(error)" }
            logger.warning("cannot connect to broker", metadata: ["error": "\(error)"])
        }
    }

    private func sendOutbox(on session: AMQPSession) throws {
        let work = lock.withLock { () -> [Work] in
            defer { outbox.removeAll() }
            return outbox
        }
        if work.count > 1 { session.cork(true) }
        defer { if work.count > 1 { session.cork(false) } }
        for (index, item) in work.enumerated() {
            do {
                try send(item, on: session)
            } catch {
                // Keep what was not sent for the next connection.
                requeue(Array(work[(index + 1)...]), inFront: true)
                if case .publish = item { requeue([item], inFront: true) } else { item.fail(error) }
                throw error
            }
        }
    }

    private func send(_ item: Work, on session: AMQPSession) throws {
        switch item {
        case .publish(var pending):
            if ContinuousClock.now >= pending.deadline {
                pending.completion(.failure(MessagingError.timedOut("publish to \(pending.routingKey)")))
                return
            }
            if pending.properties.messageId == nil { pending.properties.messageId = RandomID.uuid() }
            let tag = try session.publish(exchange: pending.exchange, routingKey: pending.routingKey,
                                          body: pending.body, properties: pending.properties,
                                          mandatory: pending.mandatory)
            unconfirmed[tag] = pending
        case .declare(let items, let once, let continuation):
            for item in items { try session.declare(item) }
            if !once {
                lock.withLock {
                    for item in items where !declarations.contains(item) { declarations.append(item) }
                }
            }
            continuation.resume()
        case .startConsumer(let tag):
            guard let consumer = lock.withLock({ consumers[tag] }), !startedConsumers.contains(tag) else { return }
            try session.consume(queue: consumer.queue, consumerTag: tag, prefetch: consumer.prefetch,
                                noAck: consumer.noAck)
            startedConsumers.insert(tag)
        case .ack(let tag, let epoch):
            if epoch == session.epoch { try session.ack(tag: tag) }
        case .nack(let tag, let epoch, let requeue):
            if epoch == session.epoch { try session.nack(tag: tag, requeue: requeue) }
        }
    }

    private func handle(_ frame: IncomingFrame) throws {
        switch frame {
        case .nothing:
            return
        case .delivery(let tag, let delivery):
            if let consumer = lock.withLock({ consumers[tag] }) {
                consumer.deliver(delivery)
            } else if let session {
                // Its consumer went away: let another have it.
                try session.nack(tag: delivery.tag, requeue: true)
            }
        case .ack(let tag, let multiple):
            for (_, pending) in confirmed(upTo: tag, multiple: multiple) {
                if let id = pending.properties.messageId, returnedIds.remove(id) != nil {
                    pending.completion(
                        .failure(MessagingError.unroutable(exchange: pending.exchange, routingKey: pending.routingKey)))
                } else {
                    pending.completion(.success(()))
                }
            }
        case .nack(let tag, let multiple):
            for (_, pending) in confirmed(upTo: tag, multiple: multiple) {
                pending.completion(.failure(MessagingError.rejected))
            }
        case .returned(let messageId):
            if let messageId { returnedIds.insert(messageId) }
        case .closed(let reason, let refusedPublish):
            if refusedPublish, let first = unconfirmed.keys.min(), let pending = unconfirmed.removeValue(forKey: first) {
                // Sending it again would be refused again, forever: its sender learns why instead.
                pending.completion(.failure(MessagingError.refused(reason)))
            }
            throw SessionError(reason)
        }
    }

    private func confirmed(upTo tag: UInt64, multiple: Bool) -> [(UInt64, PendingPublish)] {
        let keys = multiple ? unconfirmed.keys.filter { $0 <= tag }.sorted() : [tag]
        return keys.compactMap { key in unconfirmed.removeValue(forKey: key).map { (key, $0) } }
    }

    /// Forgets the broken session; unconfirmed publishes go out again on the next one.
    private func drop(reason: String) {
        logger.warning("broker connection lost", metadata: ["reason": "\(reason)"])
        session = nil
        lock.withLock { connectedSince = nil }
        let resend = unconfirmed.sorted { $0.key < $1.key }.map { Work.publish($0.value) }
        unconfirmed.removeAll()
        returnedIds.removeAll()
        requeue(resend, inFront: true)
    }

    private func requeue(_ work: [Work], inFront: Bool) {
        guard !work.isEmpty else { return }
        lock.withLock { outbox = inFront ? work + outbox : outbox + work }
    }

    private func expireDeadlines() {
        let now = ContinuousClock.now
        let expired = lock.withLock { () -> [PendingPublish] in
            var expired: [PendingPublish] = []
            outbox.removeAll { work in
                guard case .publish(let pending) = work, pending.deadline <= now else { return false }
                expired.append(pending)
                return true
            }
            return expired
        }
        for pending in expired {
            pending.completion(.failure(MessagingError.timedOut("publish to \(pending.routingKey)")))
        }
    }

    private func expireConnectionWaiters() {
        let now = ContinuousClock.now
        let (expired, reason) = lock.withLock { () -> ([ConnectionWaiter], String) in
            var expired: [ConnectionWaiter] = []
            connectionWaiters.removeAll { waiter in
                guard let deadline = waiter.deadline, deadline <= now else { return false }
                expired.append(waiter)
                return true
            }
            return (expired, lastConnectError ?? "no answer yet")
        }
        let broker = "\(configuration.host):\(configuration.port) (vhost \(configuration.vhost))"
        for waiter in expired {
            waiter.continuation.resume(throwing: MessagingError.unreachable(broker: broker, reason: reason))
        }
    }

    private func shutDown() {
        session = nil
        let (work, consumers, waiters) = lock.withLock { () -> ([Work], [Consumer], [ConnectionWaiter]) in
            defer {
                outbox.removeAll()
                self.consumers.removeAll()
                connectionWaiters.removeAll()
            }
            return (outbox, Array(self.consumers.values), connectionWaiters)
        }
        work.forEach { $0.fail(MessagingError.closed) }
        unconfirmed.values.forEach { $0.completion(.failure(MessagingError.closed)) }
        unconfirmed.removeAll()
        consumers.forEach { $0.finish() }
        waiters.forEach { $0.continuation.resume(throwing: MessagingError.closed) }
    }
}

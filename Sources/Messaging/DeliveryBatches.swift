import Foundation

/// Deliveries of one consumer, handed out in batches of whatever has arrived. A receiver that writes each batch in
/// one transaction pays for one commit however many messages came at once (group commit).
public final class DeliveryBatches: @unchecked Sendable {
    private let lock = NSLock()
    private var buffered: [Delivery] = []
    private var finished = false
    private var waiter: CheckedContinuation<Void, Never>?
    var onCancel: @Sendable () -> Void = {}

    /// The next batch (1 to `limit` deliveries, oldest first); nil once the connection is closed and the buffer is
    /// empty, or when the calling task is cancelled.
    public func next(limit: Int = 256) async -> [Delivery]? {
        while true {
            let batch: [Delivery]? = lock.withLock {
                if !buffered.isEmpty {
                    let count = min(limit, buffered.count)
                    defer { buffered.removeFirst(count) }
                    return Array(buffered.prefix(count))
                }
                return finished ? [] : nil
            }
            if let batch { return batch.isEmpty ? nil : batch }
            if Task.isCancelled {
                onCancel()
                return nil
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let ready = lock.withLock {
                        if !buffered.isEmpty || finished { return true }
                        waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                self.wake()
            }
        }
    }

    @Sendable func append(_ delivery: Delivery) {
        let waiter = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            buffered.append(delivery)
            defer { self.waiter = nil }
            return self.waiter
        }
        waiter?.resume()
    }

    @Sendable func finish() {
        lock.withLock { finished = true }
        wake()
    }

    private func wake() {
        let waiter = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            defer { self.waiter = nil }
            return self.waiter
        }
        waiter?.resume()
    }
}

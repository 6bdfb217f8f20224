import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The receiving end of systemd's notify protocol, as a service manager holds it: a datagram socket whose path goes
/// to the daemon as `NOTIFY_SOCKET`. Every datagram (`READY=1\nSTATUS=…`, `WATCHDOG=1`, `STOPPING=1`) is kept, and
/// waiters are woken by the datagram they wait for.
public final class NotifySocket: @unchecked Sendable {
    public let path: String
    private let descriptor: Int32
    private let lock = NSLock()
    private var messages: [String] = []
    private var waiters: [UUID: (predicate: @Sendable (String) -> Bool, continuation: CheckedContinuation<Void, Error>)] = [:]
    private var closed = false

    public init(path: String) throws {
        self.path = path
        unlink(path)
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestSupportError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            Glibc.close(descriptor)
            throw TestSupportError("notify socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            Glibc.close(descriptor)
            throw TestSupportError("bind \(path): \(String(cString: strerror(errno)))")
        }
        let thread = Thread { [self] in receive() }
        thread.name = "notify-\(URL(fileURLWithPath: path).lastPathComponent)"
        thread.start()
    }

    /// Every datagram received so far, in order.
    public var received: [String] { lock.withLock { messages } }

    /// Whether a datagram has a line equal to `line` (such as `READY=1`).
    public func hasReceived(_ line: String) -> Bool {
        lock.withLock { messages.contains { Self.lines($0).contains(Substring(line)) } }
    }

    /// Waits for a datagram with the line `line` (received now or earlier, counting from `after` messages).
    public func wait(for line: String, after skipped: Int = 0, timeout: Duration) async throws {
        let id = UUID()
        let predicate: @Sendable (String) -> Bool = { Self.lines($0).contains(Substring(line)) }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let done = lock.withLock { () -> Bool in
                    if messages.dropFirst(skipped).contains(where: predicate) { return true }
                    waiters[id] = (predicate, continuation)
                    return false
                }
                if done { return continuation.resume() }
                Task.detached { [weak self] in
                    try? await Task.sleep(for: timeout)
                    guard let self else { return }
                    self.fail(id, TestSupportError("no \(line) on \(self.path) within \(timeout); received: \(self.received)"))
                }
            }
        } onCancel: {
            fail(id, CancellationError())
        }
    }

    private func fail(_ id: UUID, _ error: Error) {
        let waiter = lock.withLock { waiters.removeValue(forKey: id) }
        waiter?.continuation.resume(throwing: error)
    }

    /// Stops receiving; waiters still waiting fail.
    public func close() {
        let waiting = lock.withLock { () -> [CheckedContinuation<Void, Error>] in
            closed = true
            defer { waiters.removeAll() }
            return waiters.values.map(\.continuation)
        }
        shutdown(descriptor, Int32(SHUT_RDWR))
        waiting.forEach { $0.resume(throwing: TestSupportError("notify socket \(path) closed")) }
    }

    private func receive() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 {
                if count < 0, errno == EINTR { continue }
                if lock.withLock({ closed }) || count == 0 { break }
                continue
            }
            let message = String(decoding: buffer[..<count], as: UTF8.self)
            let woken = lock.withLock { () -> [CheckedContinuation<Void, Error>] in
                messages.append(message)
                let matched = waiters.filter { $0.value.predicate(message) }
                for id in matched.keys { waiters.removeValue(forKey: id) }
                return matched.values.map(\.continuation)
            }
            woken.forEach { $0.resume() }
        }
        Glibc.close(descriptor)
        unlink(path)
    }

    private static func lines(_ message: String) -> [Substring] { message.split(separator: "\n") }
}

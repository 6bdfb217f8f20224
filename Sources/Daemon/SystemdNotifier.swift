import Foundation
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Speaks systemd's notify protocol (`Type=notify`): READY once the daemon serves, STOPPING on shutdown, and
/// WATCHDOG pings at half the configured interval — but only while the daemon reports `progress()` from its main
/// loop, so a daemon that hangs (not just one that dies) is restarted. Without `NOTIFY_SOCKET` it does nothing.
public final class SystemdNotifier: Service, @unchecked Sendable {
    private let socketPath: String?
    private let watchdogInterval: Duration?
    private let lock = NSLock()
    private var progressed = false

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = environment["NOTIFY_SOCKET"]
        watchdogInterval = environment["WATCHDOG_USEC"].flatMap(Int64.init).map { .microseconds($0) }
    }

    /// Tells systemd the daemon is ready.
    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }

    public func status(_ text: String) { send("STATUS=\(text)") }

    /// The daemon's main loop went round: the next watchdog ping may go.
    @Sendable public func progress() { lock.withLock { progressed = true } }

    public func run() async throws {
        guard let interval = watchdogInterval else {
            try? await gracefulShutdown()
            send("STOPPING=1")
            return
        }
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: interval / 2)
                let alive = self.lock.withLock {
                    defer { self.progressed = false }
                    return self.progressed
                }
                if alive { self.send("WATCHDOG=1") }
            }
        }
        send("STOPPING=1")
    }

    private func send(_ message: String) {
        guard let path = socketPath, !path.isEmpty else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract socket
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        _ = message.withCString { text in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                    sendto(fd, text, strlen(text), 0, sockaddrPointer, length)
                }
            }
        }
    }
}

import Foundation
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Speaks systemd's notify protocol (`Type=notify`): READY once the daemon serves, WATCHDOG pings at half the
/// configured interval while it runs, STOPPING on shutdown. Without `NOTIFY_SOCKET` it does nothing.
public final class SystemdNotifier: Service, @unchecked Sendable {
    private let socketPath: String?
    private let watchdogInterval: Duration?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = environment["NOTIFY_SOCKET"]
        watchdogInterval = environment["WATCHDOG_USEC"].flatMap(Int64.init).map { .microseconds($0) }
    }

    /// Tells systemd the daemon is ready.
    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }

    public func status(_ text: String) { send("STATUS=\(text)") }

    public func run() async throws {
        guard let interval = watchdogInterval else {
            try? await gracefulShutdown()
            send("STOPPING=1")
            return
        }
        try? await cancelWhenGracefulShutdown {
            while true {
                self.send("WATCHDOG=1")
                try await Task.sleep(for: interval / 2)
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

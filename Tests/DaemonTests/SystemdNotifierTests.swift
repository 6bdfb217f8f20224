import Daemon
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The notify protocol against a real unix datagram socket, standing in for systemd.
@Suite struct SystemdNotifierTests {
    /// A bound datagram socket that reads what the notifier sends.
    final class FakeSystemd {
        let path = NSTemporaryDirectory() + "veem-notify-\(UUID().uuidString.prefix(8)).sock"
        let fd: Int32

        init() {
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sa_family_t>.size + bytes.count))
                }
            }
            var timeout = timeval(tv_sec: 0, tv_usec: 700_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit {
            close(fd)
            unlink(path)
        }

        /// The next datagram, or nil after the receive timeout.
        func next() -> String? {
            var buffer = [UInt8](repeating: 0, count: 512)
            let count = recv(fd, &buffer, buffer.count, 0)
            return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
        }
    }

    @Test func readyAndWatchdogPingsOnlyWhileTheDaemonProgresses() async throws {
        let systemd = FakeSystemd()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "200000"])
        notifier.ready(status: "serving")
        #expect(systemd.next() == "READY=1\nSTATUS=serving")
        let running = Task { try await notifier.run() }
        defer { running.cancel() }
        notifier.progress()
        #expect(systemd.next() == "WATCHDOG=1")
        // The main loop stopped reporting progress: no more pings, so systemd would restart the daemon.
        #expect(systemd.next() == nil)
        notifier.progress()
        #expect(systemd.next() == "WATCHDOG=1")
    }
}

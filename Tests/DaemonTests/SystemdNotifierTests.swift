import Daemon
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The notify protocol against a real unix datagram socket, standing in for systemd.
@Suite struct SystemdNotifierTests {
    /// A bound datagram socket that reads what the notifier sends.
    final class FakeSystemd: @unchecked Sendable {
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
        }

        deinit {
            close(fd)
            unlink(path)
        }

        /// The next datagram, or nil after `seconds`. The blocking receive runs on a thread of its own, never on the
        /// cooperative pool the notifier needs.
        func next(within seconds: Double) async -> String? {
            var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return await withCheckedContinuation { continuation in
                Thread {
                    var buffer = [UInt8](repeating: 0, count: 512)
                    let count = recv(self.fd, &buffer, buffer.count, 0)
                    continuation.resume(returning: count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil)
                }.start()
            }
        }
    }

    @Test func readyAndWatchdogPingsOnlyWhileTheDaemonProgresses() async throws {
        let systemd = FakeSystemd()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "200000"])
        notifier.ready(status: "serving")
        #expect(await systemd.next(within: 5) == "READY=1\nSTATUS=serving")
        let running = Task { try await notifier.run() }
        defer { running.cancel() }
        notifier.progress()
        // Generous: on a loaded 2-core CI machine the notifier's task can wait seconds for a thread.
        #expect(await systemd.next(within: 30) == "WATCHDOG=1")
        // The main loop stopped reporting progress: no more pings (one progress allows one), so systemd would
        // restart the daemon. Several ping intervals pass in silence.
        #expect(await systemd.next(within: 0.7) == nil)
        notifier.progress()
        #expect(await systemd.next(within: 30) == "WATCHDOG=1")
    }
}

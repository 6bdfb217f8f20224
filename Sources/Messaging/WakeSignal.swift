import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A self-pipe the IO thread polls beside the broker socket, so queued work is sent at once instead of after the
/// next poll timeout.
final class WakeSignal: @unchecked Sendable {
    let descriptor: Int32
    private let writer: Int32

    init() {
        var ends: [Int32] = [0, 0]
        precondition(pipe(&ends) == 0, "pipe failed: \(errno)")
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        descriptor = ends[0]
        writer = ends[1]
    }

    deinit {
        Glibc.close(descriptor)
        Glibc.close(writer)
    }

    func signal() {
        var one: UInt8 = 1
        _ = write(writer, &one, 1)
    }

    func drain() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(descriptor, &buffer, buffer.count) > 0 {}
    }

    /// Waits until the socket is readable, a signal arrives, or `milliseconds` pass.
    func wait(socket: Int32?, milliseconds: Int32) {
        var fds = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
        if let socket { fds.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        _ = poll(&fds, nfds_t(fds.count), milliseconds)
        if fds[0].revents != 0 { drain() }
    }
}

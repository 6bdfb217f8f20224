import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A built veem executable run as its own process, the way its systemd unit runs it: `--config` names a settings file
/// in the /etc/veem format, the environment is the unit's (a plain PATH, `NOTIFY_SOCKET`, `WATCHDOG_USEC`) plus the
/// `VEEM_*` lines an `EnvironmentFile=` would add, and readiness is the `READY=1` it sends.
public final class DaemonProcess: @unchecked Sendable {
    public let name: String
    public let executable: String
    public let settingsPath: String
    public let logPath: String
    public let notify: NotifySocket
    private let process = Process()
    private let exited = ExitLatch()

    /// This package's checkout.
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// Where `swift build` put the executables: `VEEM_BIN_DIR`, else this package's `.build/debug`.
    public static var binDirectory: String {
        ProcessInfo.processInfo.environment["VEEM_BIN_DIR"] ?? packageRoot + "/.build/debug"
    }

    /// What systemd gives a service before its own `Environment=` lines.
    public static func unitEnvironment(notifySocket: String, watchdog: Duration?) -> [String: String] {
        var environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                           "LANG": "C.UTF-8", "NOTIFY_SOCKET": notifySocket,
                           "INVOCATION_ID": UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()]
        // Not systemd's, but a sanitizer run's: each daemon reports to its own file (Packaging/run-tests.sh --asan).
        for key in ["ASAN_OPTIONS", "UBSAN_OPTIONS"] {
            if let value = ProcessInfo.processInfo.environment[key] { environment[key] = value }
        }
        if let watchdog {
            let (seconds, attoseconds) = watchdog.components
            environment["WATCHDOG_USEC"] = "\(seconds * 1_000_000 + attoseconds / 1_000_000_000_000)"
        }
        return environment
    }

    /// Writes `settings` as the daemon's settings file in `directory` and starts `executable` (a name in
    /// `binDirectory`, or a path) with `--config` and `arguments`. `environment` adds to the unit's environment.
    /// With `settingsPath`, that file is the settings file and nothing is written. `launcher` runs it inside
    /// namespaces (`nsenter … --`, `ip netns exec NS`), which exec it: the process is still the daemon itself.
    public init(_ executable: String, name: String, directory: String, settings: [String: String],
                environment: [String: String] = [:], arguments: [String] = [], watchdog: Duration? = .seconds(2),
                writeSettings: Bool = true, settingsPath: String? = nil, launcher: [String] = []) throws {
        self.name = name
        self.executable = executable.contains("/") ? executable : Self.binDirectory + "/" + executable
        self.settingsPath = settingsPath ?? directory + "/\(name).conf"
        logPath = directory + "/\(name).log"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if writeSettings, settingsPath == nil {
            let lines = settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            try (["# \(name): written by the system test"] + lines).joined(separator: "\n")
                .appending("\n").write(toFile: self.settingsPath, atomically: true, encoding: .utf8)
        }
        // sun_path holds 108 bytes: keep the socket's path short.
        notify = try NotifySocket(path: "/tmp/veem-\(UUID().uuidString.prefix(8)).notify")
        let command = launcher + [self.executable, "--config", self.settingsPath] + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = Self.unitEnvironment(notifySocket: notify.path, watchdog: watchdog)
            .merging(environment) { $1 }
        // A restart under the same name appends to the same log.
        if !FileManager.default.fileExists(atPath: logPath) {
            FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        let latch = exited
        process.terminationHandler = { process in
            latch.open(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal)
        }
        try process.run()
        try? log.close()
    }

    public var pid: Int32 { process.processIdentifier }

    /// What the process wrote to standard output and standard error.
    public var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits for `READY=1`; fails early, with the process's output, if it exits first.
    public func waitUntilReady(timeout: Duration = .seconds(60)) async throws {
        try await waitForNotification("READY=1", timeout: timeout)
    }

    /// Waits for a notify line (`READY=1`, `WATCHDOG=1`, `STOPPING=1`), sent after the first `after` datagrams.
    public func waitForNotification(_ line: String, after: Int = 0, timeout: Duration) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await self.notify.wait(for: line, after: after, timeout: timeout); return true }
            group.addTask {
                let exit = try await self.exited.wait(timeout: timeout + .seconds(1))
                throw TestSupportError("\(self.name) exited (\(exit)) before \(line):\n\(self.output)")
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// Waits for the process to end; nil if it is still running after `timeout`.
    public func waitForExit(timeout: Duration) async throws -> Exit? {
        try? await exited.wait(timeout: timeout)
    }

    /// Sends SIGTERM, as `systemctl stop` does, and waits up to `timeout` (the unit's TimeoutStopSec) for the end.
    public func terminate(timeout: Duration) async throws -> Exit {
        kill(process.processIdentifier, SIGTERM)
        guard let exit = try await waitForExit(timeout: timeout) else {
            kill(process.processIdentifier, SIGKILL)
            throw TestSupportError("\(name) did not stop within \(timeout) of SIGTERM:\n\(output)")
        }
        return exit
    }

    /// Kills the process outright (SIGKILL) and waits for it to be gone.
    public func kill9() async throws {
        kill(process.processIdentifier, SIGKILL)
        _ = try await exited.wait(timeout: .seconds(30))
    }

    /// Stops whatever is still running; for test clean-up.
    public func stop() async {
        if process.isRunning { _ = try? await terminate(timeout: .seconds(30)) }
        notify.close()
    }

    /// How a process ended.
    public struct Exit: Sendable, Equatable, CustomStringConvertible {
        public var status: Int32
        public var signalled: Bool
        public var description: String { signalled ? "killed by signal \(status)" : "exit status \(status)" }
    }
}

/// Opens once, when the process exits; waiters before and after see the same exit.
final class ExitLatch: @unchecked Sendable {
    private let lock = NSLock()
    private var exit: DaemonProcess.Exit?
    private var waiters: [UUID: CheckedContinuation<DaemonProcess.Exit, Error>] = [:]

    func open(status: Int32, signalled: Bool) {
        let woken = lock.withLock { () -> [CheckedContinuation<DaemonProcess.Exit, Error>] in
            exit = DaemonProcess.Exit(status: status, signalled: signalled)
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }
        woken.forEach { $0.resume(returning: DaemonProcess.Exit(status: status, signalled: signalled)) }
    }

    func wait(timeout: Duration) async throws -> DaemonProcess.Exit {
        let id = UUID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let ready = lock.withLock { () -> DaemonProcess.Exit? in
                    if let exit { return exit }
                    waiters[id] = continuation
                    return nil
                }
                if let ready { return continuation.resume(returning: ready) }
                Task.detached { [weak self] in
                    try? await Task.sleep(for: timeout)
                    self?.fail(id, TestSupportError("still running after \(timeout)"))
                }
            }
        } onCancel: {
            fail(id, CancellationError())
        }
    }

    private func fail(_ id: UUID, _ error: Error) {
        let waiter = lock.withLock { waiters.removeValue(forKey: id) }
        waiter?.resume(throwing: error)
    }
}

import BlockingIO
import Foundation
import Synchronization

/// A host tool (`ip`, `bridge`, `nft`, `dnsmasq`) that exited with a failure.
struct HostCommandError: Error, CustomStringConvertible {
    var command: [String]
    var status: Int32
    var output: String
    var description: String {
        "\(command.joined(separator: " ")) failed (exit \(status)): "
            + output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Runs the host's network tools on threads of their own: a process is waited for by a blocking call, which must
/// never hold one of the cooperative pool's threads. Spawned by `posix_spawn` and reaped by `waitpid` here, with
/// every signal unblocked and at its default in the child: a child inherits its parent's signal mask, and a daemon
/// blocks the signals it handles (a dnsmasq with SIGHUP blocked never re-reads its leases); and nothing here
/// depends on the SIGCHLD handling of Foundation's `Process`, which a blocked or inherited mask defeats.
public struct HostCommands: Sendable {
    let pool: BlockingPool
    /// Held while pipes are made and children spawned.
    static let spawning = Mutex<Void>(())

    public init() { self.pool = BlockingPool(name: "host-commands", threads: 2) }

    /// Runs `arguments[0]` (a name looked up in the usual sbin and bin directories, or a path) and returns its
    /// standard output; throws with its standard error when it fails. `stdin` is written to it first.
    @discardableResult
    func run(_ arguments: [String], stdin: String? = nil) async throws -> String {
        try await pool.run {
            var output: [Int32] = [0, 0], errors: [Int32] = [0, 0], input: [Int32] = [0, 0]
            // Close-on-exec, set before any other child can be spawned (under the lock spawns take), so that no
            // child of the other thread holds these open.
            func makePipe(_ fds: inout [Int32]) -> Bool {
                pipe(&fds) == 0 && fcntl(fds[0], F_SETFD, FD_CLOEXEC) == 0 && fcntl(fds[1], F_SETFD, FD_CLOEXEC) == 0
            }
            let made = Self.spawning.withLock { _ in makePipe(&output) && makePipe(&errors) && makePipe(&input) }
            guard made else {
                throw HostCommandError(command: arguments, status: -1, output: String(cString: strerror(errno)))
            }
            let pid = try Self.spawn(arguments, stdin: input[0], stdout: output[1], stderr: errors[1])
            [output[1], errors[1], input[0]].forEach { close($0) }
            let errorText = PipeReader(errors[0])
            let inputHandle = FileHandle(fileDescriptor: input[1], closeOnDealloc: true)
            if let stdin { inputHandle.write(Data(stdin.utf8)) }
            try? inputHandle.close()
            let text = String(decoding: FileHandle(fileDescriptor: output[0], closeOnDealloc: true)
                .readDataToEndOfFile(), as: UTF8.self)
            let status = Self.wait(pid)
            let stderr = errorText.text()
            guard status == 0 else { throw HostCommandError(command: arguments, status: status, output: stderr + text) }
            return text
        }
    }

    /// Starts a program that puts itself in the background (dnsmasq) and waits for its first process to exit. Its
    /// output goes to `log`, never to a pipe: the daemon keeps what it inherited open for as long as it runs.
    /// dnsmasq closes every other descriptor it inherits.
    func start(_ arguments: [String], log: String) async throws {
        try await pool.run {
            let logFD = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
            defer { close(logFD); close(null) }
            let pid = try Self.spawn(arguments, stdin: null, stdout: logFD, stderr: logFD)
            let status = Self.wait(pid)
            guard status == 0 else {
                throw HostCommandError(command: arguments, status: status,
                                       output: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
            }
        }
    }

    /// The child gets `stdin`, `stdout` and `stderr` as 0, 1 and 2 (dup2 clears close-on-exec on those).
    private static func spawn(_ arguments: [String], stdin: Int32, stdout: Int32, stderr: Int32) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let path = locate(arguments[0])
        let spawned = spawning.withLock { _ in posix_spawn(&pid, path, &actions, &attributes, argv, environ) }
        guard spawned == 0 else {
            throw HostCommandError(command: arguments, status: -1, output: String(cString: strerror(spawned)))
        }
        return pid
    }

    /// The exit status, or -1 for a child ended by a signal (WIFEXITED and WEXITSTATUS spelled out: the C macros
    /// do not import).
    private static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return status & 0x7f == 0 ? (status >> 8) & 0xff : -1
    }

    static func locate(_ name: String) -> String {
        if name.hasPrefix("/") { return name }
        for directory in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] where
            FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        return "/usr/sbin/\(name)"
    }
}

/// Reads a pipe to its end on a thread of its own, so that the caller can read another pipe meanwhile.
private final class PipeReader: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ fd: Int32) {
        Thread { [self] in
            data = FileHandle(fileDescriptor: fd, closeOnDealloc: true).readDataToEndOfFile()
            done.signal()
        }.start()
    }

    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

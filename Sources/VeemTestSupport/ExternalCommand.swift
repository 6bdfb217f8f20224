import Foundation

/// Runs a program to its end on a thread of its own: waiting for a process must not hold a cooperative thread (the
/// suite's other tests need them).
public enum ExternalCommand {
    public struct Result: Sendable {
        public var status: Int32
        /// Standard output and standard error, interleaved.
        public var output: String
    }

    /// `path` opened for appending (created if missing): where a long-running child's output goes, across restarts.
    public static func appendingLog(_ path: String) throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        log.seekToEndOfFile()
        return log
    }

    public static func run(_ path: String, _ arguments: [String],
                           environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Swift.Result {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: path)
                    process.arguments = arguments
                    process.environment = environment
                    let output = Pipe()
                    process.standardOutput = output
                    process.standardError = output
                    try process.run()
                    let data = output.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
                })
            }.start()
        }
    }
}

import Logging
import Synchronization

/// What a harness's services log at `warning` and above, kept so that a test can wait for a daemon to say
/// something it has no event for (a registration the broker could not route yet).
public final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    /// Every kept message so far, oldest first.
    public var messages: [String] { lines.withLock { $0 } }

    /// Waits until a kept message contains `text`; false if none did within `timeout`.
    public func wait(for text: String, timeout: Duration = .seconds(20)) async throws -> Bool {
        try await eventually(timeout: timeout) { self.messages.contains { $0.contains(text) } }
    }

    fileprivate func keep(_ line: String) { lines.withLock { $0.append(line) } }

    /// A handler that keeps into this capture.
    public func handler(label: String) -> any LogHandler { Handler(capture: self) }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var logLevel: Logger.Level = .warning
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            capture.keep("\(level) \(message)")
        }
    }
}

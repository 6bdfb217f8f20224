import Foundation

/// Daemon settings from `KEY=value` lines in a file (e.g. /etc/veem/agent.conf), overridden by the environment.
/// Both use the same `VEEM_*` names, so a systemd `Environment=` line and the file are interchangeable.
/// A named file must exist; `file: nil` configures from the environment alone.
public struct Settings: Sendable {
    public private(set) var values: [String: String]

    public init(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var values: [String: String] = [:]
        if let file {
            // A daemon started with a settings file that is not there must not run on defaults.
            guard FileManager.default.fileExists(atPath: file) else {
                throw SettingsError(message: "settings file \(file) does not exist")
            }
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw SettingsError(message: "settings file \(file) cannot be read as UTF-8 text: \(error)")
            }
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                guard let equals = trimmed.firstIndex(of: "=") else {
                    throw SettingsError(message: "\(file):\(number + 1): expected KEY=value")
                }
                values[String(trimmed[..<equals]).trimmingCharacters(in: .whitespaces)] =
                    String(trimmed[trimmed.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
            }
        }
        for (key, value) in environment where key.hasPrefix("VEEM_") { values[key] = value }
        self.values = values
    }

    public subscript(key: String) -> String? { values[key] }

    public func string(_ key: String, default fallback: String) -> String { values[key] ?? fallback }

    /// A duration in seconds (fractions allowed).
    public func seconds(_ key: String, default fallback: Double) throws -> Duration {
        guard let text = values[key] else { return .milliseconds(Int64(fallback * 1000)) }
        guard let value = Double(text), value > 0 else {
            throw SettingsError(message: "\(key) must be a positive number of seconds, got '\(text)'")
        }
        return .milliseconds(Int64(value * 1000))
    }
}

public struct SettingsError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

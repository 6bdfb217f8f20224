import Foundation

/// A unit file under systemd/, read the way the tests need it: what `[Service]` says about starting, watching and
/// stopping the daemon, so that system tests hold each process to its own unit's contract.
public struct SystemdUnit: Sendable {
    /// `Key=value` lines of `[Service]`; a key given twice keeps every value.
    public var service: [String: [String]]

    /// Reads `systemd/<name>.service` of this package.
    public init(named name: String) throws {
        try self.init(path: DaemonProcess.packageRoot + "/systemd/\(name).service")
    }

    public init(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var section = ""
        var service: [String: [String]] = [:]
        for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") { section = line; continue }
            guard section == "[Service]", let equals = line.firstIndex(of: "=") else { continue }
            service[String(line[..<equals]), default: []].append(String(line[line.index(after: equals)...]))
        }
        self.service = service
    }

    public func value(_ key: String) -> String? { service[key]?.last }

    /// `WatchdogSec=`, if the unit has a watchdog.
    public var watchdog: Duration? { value("WatchdogSec").flatMap(Self.duration) }

    /// `TimeoutStopSec=` (systemd's default is 90 s).
    public var stopTimeout: Duration { value("TimeoutStopSec").flatMap(Self.duration) ?? .seconds(90) }

    /// `ExecStart=` split into words.
    public var execStart: [String] { value("ExecStart")?.split(separator: " ").map(String.init) ?? [] }

    /// Parses systemd time spans of the forms used here: `30`, `30s`, `2min`, `500ms`.
    static func duration(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 0.001), ("min", 60), ("s", 1)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { .milliseconds(Int64($0 * scale * 1000)) }
        }
        return Double(text).map { .milliseconds(Int64($0 * 1000)) }
    }
}

import Foundation

/// Judges "booted" by a marker the guest prints on its serial console (libvirt's "running" says nothing about
/// whether the kernel got anywhere).
struct ConsoleWatcher: Sendable {
    let directory: String

    func path(for vee: String) -> String { "\(directory)/\(vee).log" }

    /// Empties the log before a boot, so an old marker cannot count.
    func reset(_ vee: String) {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Truncated in place: an atomic write would create and rename a temporary file for every boot.
        try? Data().write(to: URL(fileURLWithPath: path(for: vee)))
    }

    func remove(_ vee: String) { try? FileManager.default.removeItem(atPath: path(for: vee)) }

    /// The last `bytes` of a console log, without reading the rest; the zeros a truncation left behind a running
    /// guest's writes are dropped.
    static func tail(of path: String, bytes: Int) throws -> Data {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size > UInt64(bytes) ? size - UInt64(bytes) : 0)
        return Data((try handle.readToEnd() ?? Data()).drop { $0 == 0 })
    }

    /// Whether the VEE has a console log at all (a guest adopted from elsewhere may have none to judge by).
    func exists(_ vee: String) -> Bool { FileManager.default.fileExists(atPath: path(for: vee)) }

    /// Whether the console shows `marker` now.
    func shows(_ marker: String, vee: String) -> Bool {
        FileManager.default.contents(atPath: path(for: vee))?.range(of: Data(marker.utf8)) != nil
    }

    /// Waits until the console shows `marker`; false after `timeout`, or as soon as `stillRunning` says the domain
    /// stopped.
    func waitForMarker(_ marker: String, vee: String, timeout: Duration,
                       stillRunning: @Sendable () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        var checks = 0
        while ContinuousClock.now < deadline {
            if shows(marker, vee: vee) { return true }
            checks += 1
            if checks % 10 == 0, !(await stillRunning()) { return false }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}

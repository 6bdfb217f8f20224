/// Waits for a condition that has no event of its own (a metric arriving, a queue draining), asking again every
/// 50 ms until `timeout`. Prefer waiting for an event where there is one.
public func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return false
}

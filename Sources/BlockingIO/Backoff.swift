/// Exponential backoff with a ceiling, for reconnect loops.
public struct Backoff: Sendable {
    public let initial: Duration
    public let maximum: Duration
    private var current: Duration

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5)) {
        self.initial = initial
        self.maximum = maximum
        self.current = initial
    }

    /// The delay to wait now; each call doubles the next one up to `maximum`.
    public mutating func next() -> Duration {
        let delay = current
        current = min(current * 2, maximum)
        return delay
    }

    /// Call after a success so the next failure starts from `initial` again.
    public mutating func reset() { current = initial }
}

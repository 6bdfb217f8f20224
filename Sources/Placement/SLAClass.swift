/// How a class of service is placed. Sites define their own; `gold` and `bronze` are the defaults.
public struct SLAClass: Sendable, Equatable, Hashable {
    public var name: String
    /// How many virtual CPUs of this class one physical CPU carries (1 = no overcommit).
    public var cpuOvercommit: Double
    public var memoryOvercommit: Double
    /// Replicas of one component go to different hosts while that is possible.
    public var spread: Bool
    /// Higher is placed first and may preempt lower (when the site allows preemption).
    public var priority: Int
    public var mayPreempt: Bool

    public init(name: String, cpuOvercommit: Double, memoryOvercommit: Double = 1, spread: Bool, priority: Int,
                mayPreempt: Bool) {
        self.name = name
        self.cpuOvercommit = cpuOvercommit
        self.memoryOvercommit = memoryOvercommit
        self.spread = spread
        self.priority = priority
        self.mayPreempt = mayPreempt
    }

    /// No CPU or memory overcommit, replicas spread, placed first, may preempt Bronze.
    public static let gold = SLAClass(name: "Gold", cpuOvercommit: 1, spread: true, priority: 100, mayPreempt: true)
    /// CPU overcommitted up to 4×, packed.
    public static let bronze = SLAClass(name: "Bronze", cpuOvercommit: 4, spread: false, priority: 10,
                                        mayPreempt: false)
}

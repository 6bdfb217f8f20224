import VMI

/// EC2's instance state, derived from a VEE's desired and observed VMI states.
public struct InstanceState: Sendable, Equatable {
    public var code: Int
    public var name: String
    /// Why it is in this state when EC2 would say (stopped by pause or suspend, a host failure).
    public var reason: (code: String, message: String)?

    public static func == (a: InstanceState, b: InstanceState) -> Bool { a.code == b.code && a.name == b.name }

    static let pending = InstanceState(code: 0, name: "pending")
    static let running = InstanceState(code: 16, name: "running")
    static let shuttingDown = InstanceState(code: 32, name: "shutting-down")
    static let terminated = InstanceState(code: 48, name: "terminated")
    static let stopping = InstanceState(code: 64, name: "stopping")
    static let stopped = InstanceState(code: 80, name: "stopped")

    /// pending 0, running 16, shutting-down 32, terminated 48, stopping 64, stopped 80. PAUSED and SUSPENDED (the
    /// control states EC2 lacks) are `stopped` with a state reason naming them.
    public init(_ vee: VEEView) {
        let failed = vee.observed == .failed
            ? (code: "Server.InternalError", message: "Server.InternalError: \(vee.lastError ?? "host failure")") : nil
        switch vee.desired {
        case .destroyed:
            self = vee.observed == .destroyed ? .terminated : .shuttingDown
        case .active, .booting:
            self = vee.observed == .active ? .running : .pending
        case .defined, .pending, .shuttingDown:
            self = vee.observed == .defined ? .stopped : .stopping
            if self == .stopped { reason = ("Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User "
                + "initiated shutdown") }
        case .paused:
            self = vee.observed == .paused ? .stopped : .stopping
            reason = ("Client.UserInitiatedPause", "Client.UserInitiatedPause: paused (VMI PAUSED); resume with "
                + "UnpauseInstances")
        case .suspended:
            self = vee.observed == .suspended ? .stopped : .stopping
            reason = ("Client.UserInitiatedSuspend", "Client.UserInitiatedSuspend: suspended to disk (VMI "
                + "SUSPENDED); resume with ResumeInstances")
        case .failed:
            self = .stopped
        }
        if let failed { reason = failed }
    }

    init(code: Int, name: String) {
        self.code = code
        self.name = name
    }
}

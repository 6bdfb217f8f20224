/// The state of a VEE. The seed's five control states are the stable ones a VEE can be asked for; the others are
/// only observed while the hypervisor works towards one.
public enum VEEState: String, Codable, Sendable, CaseIterable {
    case defined = "DEFINED"
    case active = "ACTIVE"
    case paused = "PAUSED"
    case suspended = "SUSPENDED"
    case destroyed = "DESTROYED"
    /// Accepted and placed, not yet defined on its host.
    case pending = "PENDING"
    /// Started by the hypervisor; the guest has not yet shown its boot marker.
    case booting = "BOOTING"
    /// A graceful shutdown is under way.
    case shuttingDown = "SHUTTING_DOWN"
    /// The host could not bring the VEE to the state asked for; `lastError` says why.
    case failed = "FAILED"

    /// States that a VEEUpdate can ask for.
    public var isStable: Bool {
        switch self {
        case .defined, .active, .paused, .suspended, .destroyed: true
        case .pending, .booting, .shuttingDown, .failed: false
        }
    }
}

/// The seed's VEEUpdate operations.
public enum VEEAction: String, Codable, Sendable, CaseIterable {
    case activate = "ACTIVATE"
    case pause = "PAUSE"
    case suspend = "SUSPEND"
    case shutdown = "SHUTDOWN"
    case destroy = "DESTROY"

    /// The stable state this action leads to.
    public var target: VEEState {
        switch self {
        case .activate: .active
        case .pause: .paused
        case .suspend: .suspended
        case .shutdown: .defined
        case .destroy: .destroyed
        }
    }
}

/// Which VEEUpdate actions are legal from which desired state.
///
/// Transitions are judged against the *desired* state (what was last asked for), so a request can follow another
/// before the host has caught up. Asking for the state already desired is accepted and changes nothing: commands are
/// level-triggered, and a repeated or re-delivered one must be harmless.
public enum VEEStateMachine {
    /// The new desired state for `action` from `desired`, or the reason it is refused.
    public static func target(of action: VEEAction, from desired: VEEState) throws(VMIError) -> VEEState {
        let target = action.target
        if target == desired { return desired }
        guard allowed(from: desired).contains(action) else {
            throw VMIError(
                code: .illegalTransition, field: "action",
                message: "\(action.rawValue) is not allowed for a VEE that is \(desired.rawValue)"
                    + (allowed(from: desired).isEmpty
                        ? "" : " (allowed: \(allowed(from: desired).map(\.rawValue).joined(separator: ", ")))"))
        }
        return target
    }

    /// Actions that change a VEE in `desired`.
    public static func allowed(from desired: VEEState) -> [VEEAction] {
        switch desired {
        case .defined, .pending: [.activate, .destroy]
        case .active, .booting: [.pause, .suspend, .shutdown, .destroy]
        // A paused guest cannot see an ACPI power button; it must be activated before a graceful shutdown.
        case .paused: [.activate, .suspend, .destroy]
        case .suspended: [.activate, .destroy]
        case .shuttingDown, .failed: [.activate, .destroy]
        case .destroyed: []
        }
    }
}

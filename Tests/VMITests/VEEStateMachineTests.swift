import Testing
import VMI

@Suite struct VEEStateMachineTests {
    /// The whole table: (from, action) → target, or refused.
    static let legal: [(VEEState, VEEAction, VEEState)] = [
        (.defined, .activate, .active), (.defined, .destroy, .destroyed), (.defined, .shutdown, .defined),
        (.active, .pause, .paused), (.active, .suspend, .suspended), (.active, .shutdown, .defined),
        (.active, .destroy, .destroyed), (.active, .activate, .active),
        (.paused, .activate, .active), (.paused, .suspend, .suspended), (.paused, .destroy, .destroyed),
        (.paused, .pause, .paused),
        (.suspended, .activate, .active), (.suspended, .destroy, .destroyed), (.suspended, .suspend, .suspended),
        (.destroyed, .destroy, .destroyed),
    ]

    @Test func legalTransitionsLeadToTheirTarget() throws {
        for (from, action, target) in Self.legal {
            #expect(try VEEStateMachine.target(of: action, from: from) == target, "\(from) \(action)")
        }
    }

    @Test func everythingElseIsRefusedWithTheAllowedActions() {
        let stable: [VEEState] = [.defined, .active, .paused, .suspended, .destroyed]
        for from in stable {
            for action in VEEAction.allCases where !Self.legal.contains(where: { $0.0 == from && $0.1 == action }) {
                do {
                    _ = try VEEStateMachine.target(of: action, from: from)
                    Issue.record("\(action) from \(from) was allowed")
                } catch {
                    #expect(error.code == .illegalTransition)
                    #expect(error.field == "action")
                    #expect(error.message.contains(action.rawValue) && error.message.contains(from.rawValue))
                }
            }
        }
    }

    @Test func aDestroyedVEECanDoNothingElse() {
        #expect(VEEStateMachine.allowed(from: .destroyed).isEmpty)
    }
}

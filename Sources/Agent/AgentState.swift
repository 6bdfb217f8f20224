import Foundation
import VMI

/// What the agent knows between events: the VEEs it owns, the state it last reported for each, and the previous
/// CPU sample for load figures.
actor AgentState {
    private(set) var reported: [String: VEEState] = [:]
    private var cpuSamples: [String: (time: Double, at: ContinuousClock.Instant)] = [:]

    func owns(_ vee: String) -> Bool { reported[vee] != nil }

    /// Every VEE this host owns.
    var ownedVEEs: [String] { Array(reported.keys) }

    /// Notes a report; returns false when it repeats the last one.
    func noteReport(_ observation: VEEObservation) -> Bool {
        if observation.state == .destroyed {
            cpuSamples[observation.vee] = nil
            return reported.removeValue(forKey: observation.vee) != nil
        }
        defer { reported[observation.vee] = observation.state }
        return reported[observation.vee] != observation.state || observation.error != nil
    }

    /// Starts tracking a VEE before its first report (so its events are not mistaken for someone else's).
    func adopt(_ vee: String, state: VEEState) {
        if reported[vee] == nil { reported[vee] = state }
    }

    /// CPU load since the previous sample, as a fraction of the VEE's vCPUs (nil on the first sample).
    func cpuLoad(vee: String, cpuTimeNanoseconds: Double, vcpus: Double) -> Double? {
        let now = ContinuousClock.now
        defer { cpuSamples[vee] = (cpuTimeNanoseconds, now) }
        guard let previous = cpuSamples[vee], vcpus > 0 else { return nil }
        let elapsed = now - previous.at
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        guard seconds > 0 else { return nil }
        return max(0, (cpuTimeNanoseconds - previous.time) / 1e9 / seconds / vcpus)
    }
}

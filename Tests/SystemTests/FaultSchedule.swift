import Foundation
import PropertyTesting

/// A seeded random schedule for `FaultScheduleTests`: at each step one operation a client asks for, and one fault
/// that hits the site a moment after the request was sent. The same seed gives the same schedule.
struct FaultSchedule {
    enum Operation: Equatable, CustomStringConvertible {
        case deploy(String)
        case scale(String, Int)
        case undeploy(String)
        case submitLone(String)
        case updateLone(String, String)
        case runInstance(token: String)
        case terminate(String)

        var description: String {
            switch self {
            case .deploy(let service): "deploy \(service)"
            case .scale(let service, let replicas): "scale \(service) to \(replicas)"
            case .undeploy(let service): "undeploy \(service)"
            case .submitLone(let name): "submit \(name)"
            case .updateLone(let name, let action): "\(action) \(name)"
            case .runInstance: "RunInstances"
            case .terminate(let instance): "TerminateInstances \(instance)"
            }
        }
    }

    enum Fault: String, CaseIterable {
        case killCoordinator = "kill -9 coordinator"
        case killAgent = "kill -9 agent"
        case brokerStopStart = "broker stop_app/start_app"
        case brokerRestart = "broker restart"
        case closeConnections = "close_all_connections"
        case libvirtdRestart = "libvirtd restart"
        case inventoryFull = "inventory disk full"
        case externalDestroy = "virsh destroy"
        case externalUndefine = "virsh destroy + undefine"
        case externalSuspend = "virsh suspend"

        var isExternal: Bool { [.externalDestroy, .externalUndefine, .externalSuspend].contains(self) }
    }

    struct Step: CustomStringConvertible {
        var operation: Operation
        var fault: Fault
        /// How long after the request was sent the fault strikes.
        var delay: Duration
        var description: String { "\(operation), then \(fault) after \(delay.formatted(.units(allowed: [.milliseconds])))" }
    }

    /// What the site should hold once converged: services with their replica counts, lone VEEs with their desired
    /// state, EC2 instances.
    struct Model {
        var services: [String: Int] = [:]
        var lone: [String: String] = [:]
        var instances: Set<String> = []
        var size: Int { services.values.reduce(0, +) + lone.count + instances.count }
    }

    private var random: Generator
    private var counter = 0
    /// Every kind of fault, each once, before any repeats: short schedules still meet them all.
    private var faults: [Fault] = []

    init(seed: UInt64) { random = Generator(state: seed) }

    /// The next step for a site holding `model`; at most `limit` VEEs so that the host's two cores keep up.
    mutating func next(for model: Model, limit: Int = 5) -> Step {
        counter += 1
        var choices: [Operation] = []
        if model.size < limit {
            if model.services.count < 2 { choices.append(.deploy("svc\(counter)")) }
            if model.lone.count < 2 { choices.append(.submitLone("lone\(counter)")) }
            if model.instances.isEmpty { choices.append(.runInstance(token: "faults-\(counter)")) }
        }
        for (service, replicas) in model.services.sorted(by: { $0.key < $1.key }) {
            choices.append(.undeploy(service))
            let target = replicas == 1 ? 2 : 1
            if target < replicas || model.size < limit { choices.append(.scale(service, target)) }
        }
        for (name, state) in model.lone.sorted(by: { $0.key < $1.key }) {
            choices.append(.updateLone(name, state == "ACTIVE" ? random.pick(["pause", "suspend", "destroy"])
                                                                 : "activate"))
        }
        for instance in model.instances.sorted() { choices.append(.terminate(instance)) }
        if faults.isEmpty { faults = Fault.allCases.shuffled(using: &random) }
        return Step(operation: random.pick(choices), fault: faults.removeFirst(),
                    delay: .milliseconds(random.pick([0, 150, 400, 1000, 2500])))
    }
}

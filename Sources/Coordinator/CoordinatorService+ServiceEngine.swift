import Foundation
import Inventory
import Manifest
import Placement
import VMI

/// When each rule was last evaluated (rules run every `period`).
final class ServiceEngineState: @unchecked Sendable {
    private let lock = NSLock()
    private var evaluated: [String: Date] = [:]

    /// Rules due at `now`, marking them evaluated.
    func due(_ rules: [ServiceManifest.Rule], service: String, now: Date) -> [ServiceManifest.Rule] {
        lock.withLock {
            rules.filter { rule in
                let key = "\(service)|\(rule.text)"
                if let last = evaluated[key], now.timeIntervalSince(last) < rule.period.seconds { return false }
                evaluated[key] = now
                return true
            }
        }
    }
}

/// The service engine: every tick, in one transaction, brings each service's components toward their desired
/// replica counts (activating a component once what it depends on is ACTIVE, undeploying in reverse order), and
/// evaluates the elasticity rules that are due.
extension CoordinatorService {
    func runServices() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            let now = Date()
            do {
                let outcome = try await inventory.write { tx in try self.serviceTick(tx, now) }
                send(outcome)
            } catch is CancellationError {
                return  // shutting down: the unfinished transaction rolled back
            } catch {
                logger.error("service engine tick failed", metadata: ["error": "\(error)"])
            }
        }
    }

    func serviceTick(_ tx: InventoryTransaction, _ now: Date) throws -> Outcome {
        var outcome = Outcome()
        for record in try tx.serviceRecords() {
            let manifest = try parsed(record)
            if record.state == .undeploying {
                try undeployStep(record, manifest, tx, now, &outcome)
                continue
            }
            if record.state == .active { try elasticityStep(record, manifest, tx, now, &outcome) }
            try deployStep(record.name, manifest, tx, now, &outcome)
        }
        try self.record(outcome, tx, now)
        outcome.networks += try tx.takeNetworkChanges()
        return outcome
    }

    private func deployStep(_ name: String, _ manifest: ServiceManifest, _ tx: InventoryTransaction, _ now: Date,
                            _ outcome: inout Outcome) throws {
        guard let record = try tx.serviceRecord(name) else { return }
        let all = try tx.vees(ofService: name)
        var ready = Set<String>()
        var allActive = true
        var failure: String?
        func cpus(_ component: ServiceManifest.Component) -> Int {
            record.components[component.name]?.cpus ?? manifest.cpus(of: component)
        }
        for component in manifest.deploymentOrder {
            let desired = record.components[component.name]?.desiredReplicas ?? 0
            var live = all.filter { $0.component == component.name && $0.desired != .destroyed }
            if live.count < desired {
                let taken = Set(all.map(\.spec.name))
                var names: [String] = []
                var index = 0
                while names.count < desired - live.count {
                    let candidate = Self.replicaName(name, component.name, index)
                    if !taken.contains(candidate) { names.append(candidate) }
                    index += 1
                }
                do {
                    var relocations = Outcome()
                    let added = try tx.isolated {
                        try admitReplicas(names.map { (component, $0) }, of: manifest, cpus: cpus, tx, now,
                                          &relocations)
                    }
                    outcome.commands += added + relocations.commands
                    outcome.events += relocations.events
                    live += added
                } catch {
                    failure = "\(component.name): \(error)"
                    // Tried again every tick; said once when it begins, and kept on the component (its reason
                    // following the site, as hosts come and go) until it is filled.
                    let reason = "\(live.count) of \(desired) replicas: " + ((error as? VMIError)?.message ?? "\(error)")
                    let began = record.components[component.name]?.shortfall == nil
                    if try tx.setShortfall(service: name, component: component.name, reason), began {
                        outcome.events.append(SiteEvent(kind: .serviceShortfall,
                                                        message: "\(name)/\(component.name) has \(reason)",
                                                        service: name))
                    }
                }
            }
            if live.count >= desired, record.components[component.name]?.shortfall != nil,
               try tx.setShortfall(service: name, component: component.name, nil) {
                outcome.events.append(SiteEvent(kind: .serviceShortfall,
                                                message: "\(name)/\(component.name) has its \(desired) replicas again",
                                                service: name))
            }
            if live.count > desired {
                // The newest replicas go first: the oldest are warmest.
                for surplus in live.suffix(live.count - desired) {
                    let (view, _) = try tx.updateDesired(surplus.id, at: now) { _ in .destroyed }
                    outcome.commands.append(view)
                }
                live.removeLast(live.count - desired)
            }
            // A CPU rule changed the size: record it on each replica whose host has room (it takes effect at the
            // replica's next cold boot).
            for (index, replica) in live.enumerated() where replica.spec.cpus != cpus(component) {
                var spec = replica.spec
                spec.cpus = cpus(component)
                guard try hasRoom(for: Resources(cpus: spec.cpus - replica.spec.cpus, memoryMiB: 0, diskGiB: 0),
                                  replica, tx),
                      let resized = try tx.updateSpec(replica.id, spec, at: now)
                else { continue }
                live[index] = resized
                outcome.commands.append(resized)
            }
            if component.dependsOn.allSatisfy(ready.contains) {
                for replica in live where replica.desired == .defined && replica.observed == .defined {
                    let (view, _) = try tx.updateDesired(replica.id, at: now) { _ in .active }
                    outcome.commands.append(view)
                }
            }
            if let failed = live.first(where: { $0.observed == .failed }) {
                failure = "\(failed.spec.name) failed: \(failed.lastError ?? "no reason given")"
            }
            if live.count == desired && live.allSatisfy({ $0.observed == .active }) {
                ready.insert(component.name)
            } else {
                allActive = false
            }
        }
        if record.state == .deploying {
            if let failure {
                try tx.setServiceState(name, .failed, error: failure, at: now)
                outcome.events.append(Self.serviceEvent(name, .failed, "\(name) FAILED: \(failure)"))
            } else if allActive {
                try tx.setServiceState(name, .active, at: now)
                outcome.events.append(Self.serviceEvent(name, .active, "\(name) is ACTIVE"))
            }
        }
    }

    /// Whether `replica`'s host can take `extraCPUs` more under the replica's class.
    /// Whether the VEE's host can give it `extra` more (the growth of a resize; what shrinks counts as nothing).
    func hasRoom(for extra: Resources, _ replica: VEEView, _ tx: InventoryTransaction) throws -> Bool {
        let growth = Resources(cpus: max(extra.cpus, 0), memoryMiB: max(extra.memoryMiB, 0),
                               diskGiB: max(extra.diskGiB, 0))
        guard growth != Resources(cpus: 0, memoryMiB: 0, diskGiB: 0) else { return true }
        let placement = configuration.placement
        let footprint = try tx.footprint()
        guard let host = placement.hosts(try tx.hosts(footprint), footprint).first(where: { $0.id == replica.host })
        else { return false }
        let item = PlacementItem(name: "\(replica.spec.name)+growth", resources: growth,
                                 image: replica.spec.image, slaClass: placement.slaClass(replica.slaClass))
        if case .success = placement.scheduler.place([item], on: [host]) { return true }
        return false
    }

    private func undeployStep(_ record: ServiceRecord, _ manifest: ServiceManifest, _ tx: InventoryTransaction,
                              _ now: Date, _ outcome: inout Outcome) throws {
        let all = try tx.vees(ofService: record.name)
        for component in manifest.deploymentOrder.reversed() {
            let dependents = Set(manifest.components.filter { $0.dependsOn.contains(component.name) }.map(\.name))
            // Reverse order: a component goes once nothing that depends on it is left.
            guard !all.contains(where: { dependents.contains($0.component ?? "") }) else { continue }
            for replica in all where replica.component == component.name && replica.desired != .destroyed {
                let (view, _) = try tx.updateDesired(replica.id, at: now) { _ in .destroyed }
                outcome.commands.append(view)
            }
        }
        if all.isEmpty, try tx.setServiceState(record.name, .undeployed, at: now) {
            outcome.events.append(Self.serviceEvent(record.name, .undeployed, "\(record.name) is UNDEPLOYED"))
        }
    }

    private func elasticityStep(_ record: ServiceRecord, _ manifest: ServiceManifest, _ tx: InventoryTransaction,
                                _ now: Date, _ outcome: inout Outcome) throws {
        let due = engine.due(manifest.rules.filter {
            switch $0.statement {
            case .replicas: return true
            case .cpu(_, let expression): return expression.constantValue == nil
            default: return false
            }
        }, service: record.name, now: now)
        guard !due.isEmpty else { return }
        let live = try tx.vees(ofService: record.name).filter { $0.desired != .destroyed }
        var failure: Error?
        let inputs = Elasticity.Inputs(
            measured: { name, component, rule in
                // Per replica: the rule's aggregate over its window; per component: the sum over replicas and the
                // component's own probe (reported as "service/component").
                let sources = live.filter { $0.component == component }.map(\.id) + ["\(record.name)/\(component)"]
                let metric = name == "Load" ? "cpu.load" : name
                do {
                    let history = try tx.history(of: metric, vees: sources, since: now.addingTimeInterval(-rule.window.seconds))
                    let aggregates = history.values.compactMap { Elasticity.aggregate($0, rule.aggregate) }
                    return aggregates.isEmpty ? nil : aggregates.reduce(0, +)
                } catch {
                    failure = error
                    return nil
                }
            },
            replicas: { component in live.filter { $0.component == component }.count },
            lastAction: { component in record.components[component]?.lastActionAt },
            cpus: { component in
                record.components[component]?.cpus ?? manifest.component(component).map(manifest.cpus(of:)) ?? 1
            })
        let decisions = Elasticity.decide(manifest, rules: due, inputs: inputs, now: now)
        if let failure { throw failure }
        for decision in decisions {
            switch decision.resource {
            case .replicas:
                try tx.setDesiredReplicas(service: record.name, component: decision.component, decision.to, at: now)
            case .cpus:
                try tx.setComponentCPUs(service: record.name, component: decision.component, decision.to, at: now)
            }
            outcome.events.append(SiteEvent(kind: .serviceScaled, message: "\(record.name)/\(decision.explanation)",
                                            service: record.name))
        }
    }
}

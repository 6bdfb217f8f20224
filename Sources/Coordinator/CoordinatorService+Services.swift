import Foundation
import Inventory
import Manifest
import Placement
import VMI

/// Service requests: a manifest's first deployment is placed whole (every initial replica of every component, one
/// gang) or refused; the service engine then activates components in dependency order.
extension CoordinatorService {
    func submitService(_ request: SubmitService, id: String, _ tx: InventoryTransaction, _ now: Date) throws -> Outcome {
        let manifest: ServiceManifest
        switch ManifestParser.parse(request.manifest) {
        case .success(let parsed): manifest = parsed
        case .failure(let problems): throw VMIErrors(all: problems.all.map(Self.vmiError))
        }
        let placement = configuration.placement
        let hosts = try tx.hosts()
        var groups: [String: Resources] = [:]
        for host in hosts where host.state == .up {
            let group = host.group ?? "default"
            let best = groups[group] ?? .zero
            groups[group] = Resources(cpus: max(best.cpus, host.capacity.cpus),
                                      memoryMiB: max(best.memoryMiB, host.capacity.memoryMiB),
                                      diskGiB: max(best.diskGiB, host.capacity.diskGiB))
        }
        let site = SiteFacts(classes: Set(placement.classes.keys), groups: groups)
        let problems = ManifestValidator.problems(manifest, site: site)
        guard problems.isEmpty else { throw VMIErrors(all: problems.map(Self.vmiError)) }

        let replicas = manifest.components.flatMap { component in
            (0..<component.replicas.initial).map { (component, Self.replicaName(manifest.name, component.name, $0)) }
        }
        try tx.insertService(manifest.name, manifest: request.manifest,
                             replicas: Dictionary(uniqueKeysWithValues: manifest.components.map {
                                 ($0.name, $0.replicas.initial)
                             }), at: now)
        var relocations = Outcome()
        let views = try admitReplicas(replicas.map { ($0.0, $0.1) }, of: manifest, cpus: manifest.cpus(of:), tx, now,
                                      &relocations)
        let view = try serviceView(manifest.name, tx)
        return Outcome(reply: encode(ServiceReport(services: view.map { [$0] } ?? []), to: id),
                       commands: views + relocations.commands,
                       events: [SiteEvent(kind: .serviceStateChanged, message: "\(manifest.name) is DEPLOYING",
                                          service: manifest.name, serviceState: .deploying)] + relocations.events)
    }

    /// Places and records replicas (all or none); they start DEFINED. VEEs they preempted are relocated, and the
    /// commands and events for that go into `outcome`.
    func admitReplicas(_ replicas: [(ServiceManifest.Component, String)], of manifest: ServiceManifest,
                       cpus: (ServiceManifest.Component) -> Int, _ tx: InventoryTransaction, _ now: Date,
                       _ outcome: inout Outcome) throws -> [VEEView] {
        let placement = configuration.placement
        let admissions = replicas.map { component, name in
            var spec = component.spec(named: name)
            spec.cpus = cpus(component)
            return Admission(spec: spec, slaClass: manifest.slaClass(of: component.name),
                             service: manifest.name, component: component.name,
                             networks: component.networks.map { network in
                                 NetworkRequest(scope: manifest.name, name: network,
                                                subnet: manifest.network(network).subnet,
                                                bytesPerSecond: manifest.speed(of: network))
                             })
        }
        var evicted: [Resident] = []
        let views = try tx.admit(admissions, at: now, networkPool: configuration.networkPool) { hosts, vees in
            let items = admissions.map { admission in
                PlacementItem(name: admission.spec.name, resources: admission.spec.resources,
                              image: admission.spec.image, slaClass: placement.slaClass(admission.slaClass),
                              allowedGroups: manifest.deployGroups(of: admission.component ?? "").map(Set.init),
                              spreadKey: SitePlacement.spreadKey(admission.service, admission.component))
            }
            switch placement.scheduler.place(items, on: placement.hosts(hosts, vees)) {
            case .success(let plan):
                evicted = plan.preempted
                return plan.hosts
            case .failure(let failure):
                throw VMIError(code: .insufficientCapacity, field: "components.\(admissions[failure.index].component ?? "")",
                               message: "cannot place \(admissions[failure.index].spec.name): \(failure.reason)")
            }
        }
        try relocate(evicted, tx, now, &outcome)
        return views
    }

    func scaleService(_ request: ScaleService, id: String, _ tx: InventoryTransaction, _ now: Date) throws -> Outcome {
        guard let record = try tx.serviceRecord(request.service), record.state != .undeployed else {
            throw VMIError(code: .unknownService, field: "service", message: "no service named '\(request.service)'")
        }
        guard record.components[request.component] != nil,
              let component = try parsed(record).component(request.component)
        else {
            throw VMIError(code: .invalidParameter, field: "component",
                           message: "\(request.service) has no component '\(request.component)'")
        }
        guard (component.replicas.min...component.replicas.max).contains(request.replicas) else {
            throw VMIError(code: .invalidParameter, field: "replicas",
                           message: "\(request.component) runs \(component.replicas.min)...\(component.replicas.max) "
                               + "replicas, not \(request.replicas)")
        }
        try tx.setDesiredReplicas(service: request.service, component: request.component, request.replicas, at: now)
        return Outcome(reply: encode(ServiceReport(services: try serviceView(request.service, tx).map { [$0] } ?? []),
                                     to: id),
                       events: [SiteEvent(kind: .serviceScaled,
                                          message: "\(request.service)/\(request.component) set to \(request.replicas) "
                                              + "replicas by hand", service: request.service)])
    }

    func undeployService(_ request: UndeployService, id: String, _ tx: InventoryTransaction,
                         _ now: Date) throws -> Outcome {
        guard let record = try tx.serviceRecord(request.service), record.state != .undeployed else {
            throw VMIError(code: .unknownService, field: "service", message: "no service named '\(request.service)'")
        }
        try tx.setServiceState(request.service, .undeploying, at: now)
        return Outcome(reply: encode(ServiceReport(services: try serviceView(request.service, tx).map { [$0] } ?? []),
                                     to: id),
                       events: [Self.serviceEvent(request.service, .undeploying, "\(request.service) is UNDEPLOYING")])
    }

    func serviceView(_ name: String, _ tx: InventoryTransaction) throws -> ServiceView? {
        guard let record = try tx.serviceRecord(name) else { return nil }
        let manifest = try parsed(record)
        let vees = try tx.vees(ofService: name)
        return ServiceView(name: name, state: record.state, error: record.error,
                           components: manifest.deploymentOrder.map { component in
                               ComponentView(name: component.name, slaClass: manifest.slaClass(of: component.name),
                                             desiredReplicas: record.components[component.name]?.desiredReplicas ?? 0,
                                             minReplicas: component.replicas.min, maxReplicas: component.replicas.max,
                                             replicas: vees.filter { $0.component == component.name },
                                             shortfall: record.components[component.name]?.shortfall)
                           },
                           networks: try tx.networks(scope: name))
    }

    func parsed(_ record: ServiceRecord) throws -> ServiceManifest {
        try manifests.manifest(record.name, record.manifest)
    }

    /// A SERVICE_STATE_CHANGED event.
    static func serviceEvent(_ service: String, _ state: ServiceState, _ message: String) -> SiteEvent {
        SiteEvent(kind: .serviceStateChanged, message: message, service: service, serviceState: state)
    }

    static func replicaName(_ service: String, _ component: String, _ index: Int) -> String {
        String("\(service)-\(component)-\(index + 1)".prefix(63))
    }

    static func vmiError(_ problem: ManifestProblem) -> VMIError {
        VMIError(code: .invalidParameter, field: "manifest:\(problem.location)", message: problem.message)
    }
}

/// Parsed manifests by service, reparsed only when the text changes.
final class ManifestCache: @unchecked Sendable {
    private let lock = NSLock()
    private var parsed: [String: (String, ServiceManifest)] = [:]

    func manifest(_ name: String, _ text: String) throws -> ServiceManifest {
        if let (known, manifest) = lock.withLock({ parsed[name] }), known == text { return manifest }
        let manifest = try ManifestParser.parse(text).get()
        lock.withLock { parsed[name] = (text, manifest) }
        return manifest
    }
}

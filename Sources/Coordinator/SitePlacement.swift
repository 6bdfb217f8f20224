import Placement
import VMI

/// The site's placement policy: its SLA classes and weigher, and the snapshot the scheduler decides over.
public struct SitePlacement: Sendable {
    public var classes: [String: SLAClass]
    /// The class of a VEE submitted on its own (InitializeVEE/SubmitVEEs): Gold, no overcommit.
    public var loneVEEClass: String
    public var scheduler: Scheduler

    /// With `preemption`, classes that may preempt (Gold) evict lower ones (Bronze) when nothing else fits; the
    /// coordinator moves each evicted VEE to another host, or destroys and reports it.
    public init(classes: [SLAClass] = [.gold, .bronze], loneVEEClass: String = SLAClass.gold.name,
                weigher: Weigher = .pack, preemption: Bool = false) {
        self.classes = Dictionary(classes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.loneVEEClass = loneVEEClass
        self.scheduler = Scheduler(weigher: weigher, allowPreemption: preemption)
    }

    func slaClass(_ name: String?) -> SLAClass { classes[name ?? loneVEEClass] ?? classes[loneVEEClass] ?? .gold }

    /// Hosts with what already runs on them.
    func hosts(_ hosts: [HostView], _ vees: [VEEView]) -> [PlacementHost] {
        let residents = Dictionary(grouping: vees, by: \.host)
        return hosts.map { host in
            PlacementHost(id: host.id, group: host.group ?? "default", up: host.state == .up,
                          capacity: host.capacity, images: Set(host.images),
                          residents: (residents[host.id] ?? []).map { vee in
                              Resident(vee: vee.id, resources: vee.spec.resources, slaClass: slaClass(vee.slaClass),
                                       spreadKey: Self.spreadKey(vee.service, vee.component))
                          })
        }
    }

    static func spreadKey(_ service: String?, _ component: String?) -> String? {
        guard let service, let component else { return nil }
        return "\(service)/\(component)"
    }
}

import Inventory
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

    /// Hosts with what already runs on them (less the VEEs in `excluding`). VEEs of services are listed one by one,
    /// and so are lone VEEs that a class may preempt; the other lone VEEs count as one sum per class, so a placement
    /// costs the same on a site of 10 VEEs as on one of 100,000.
    func hosts(_ hosts: [HostView], _ footprint: SiteFootprint, excluding: Set<String> = []) -> [PlacementHost] {
        hosts.map { host in
            var residents = footprint.serviceFootprints(on: host.id).map(resident)
            var reserved: [Reservation] = []
            for (name, total) in footprint.loneTotals(on: host.id) {
                let slaClass = slaClass(name)
                if preemptible(slaClass) || !excluding.isEmpty {
                    residents += footprint.loneFootprints(on: host.id, slaClass: name).map(resident)
                } else {
                    reserved.append(Reservation(slaClass: slaClass, resources: total))
                }
            }
            if !excluding.isEmpty { residents.removeAll { excluding.contains($0.vee) } }
            return PlacementHost(id: host.id, group: host.group ?? "default", up: host.state == .up,
                                 capacity: host.capacity, images: Set(host.images), residents: residents,
                                 reserved: reserved)
        }
    }

    private func resident(_ vee: VEEFootprint) -> Resident {
        Resident(vee: vee.vee, resources: vee.resources, slaClass: slaClass(vee.slaClass),
                 spreadKey: Self.spreadKey(vee.service, vee.component))
    }

    /// Whether placement may evict VEEs of `slaClass` (so it must see them one by one).
    func preemptible(_ slaClass: SLAClass) -> Bool {
        scheduler.allowPreemption && classes.values.contains { $0.mayPreempt && $0.priority > slaClass.priority }
    }

    static func spreadKey(_ service: String?, _ component: String?) -> String? {
        guard let service, let component else { return nil }
        return "\(service)/\(component)"
    }
}

import Foundation
import Inventory
import Manifest
import Placement
import VMI

/// VEEs a placement evicted: each is moved to another host with room, or destroyed when none has any — and either
/// way announced as VEE_PREEMPTED. (Moving is a cold move: the VEE is defined afresh on its new host; its disk does
/// not travel until live migration exists.)
extension CoordinatorService {
    func relocate(_ evicted: [Resident], _ tx: InventoryTransaction, _ now: Date, _ outcome: inout Outcome) throws {
        let placement = configuration.placement
        let evictedIds = Set(evicted.map(\.vee))
        for resident in evicted {
            guard let vee = try tx.vee(resident.vee) else { continue }
            let footprint = try tx.footprint()
            let hosts = placement.hosts(try tx.hosts(footprint), footprint, excluding: evictedIds)
                .filter { $0.id != vee.host }
            var groups: Set<String>?
            if let service = vee.service, let component = vee.component, let record = try tx.serviceRecord(service) {
                groups = try parsed(record).deployGroups(of: component).map(Set.init)
            }
            let item = PlacementItem(name: vee.spec.name, resources: vee.spec.resources, image: vee.spec.image,
                                     slaClass: placement.slaClass(vee.slaClass), allowedGroups: groups,
                                     spreadKey: SitePlacement.spreadKey(vee.service, vee.component))
            // No chains of evictions: the move itself never preempts.
            let mover = Scheduler(weigher: placement.scheduler.weigher, allowPreemption: false)
            var leaving = vee
            leaving.desired = .destroyed
            leaving.generation += 1
            if case .success(let plan) = mover.place([item], on: hosts),
               let moved = try tx.move(vee.id, to: plan.hosts[0], at: now) {
                outcome.commands += [leaving, moved]
                outcome.events.append(SiteEvent(kind: .veePreempted, host: moved.host, vee: vee.id,
                                                message: "\(vee.spec.name) preempted on \(vee.host), moved to "
                                                    + "\(moved.host)", service: vee.service))
            } else {
                let (destroyed, _) = try tx.updateDesired(vee.id, at: now) { _ in .destroyed }
                outcome.commands.append(destroyed)
                outcome.events.append(SiteEvent(kind: .veePreempted, host: vee.host, vee: vee.id,
                                                message: "\(vee.spec.name) preempted on \(vee.host); no other host has "
                                                    + "room, so it was destroyed", service: vee.service))
            }
        }
    }
}

import Cloud
import EC2
import Foundation
import Inventory
import Messaging
import Placement
import VMI

/// EC2 calls forwarded by gateways, and the accounts they authenticate against. The cloud engine does the EC2 work;
/// the coordinator lends it placement, control and services through `CloudSiteOperations`.
extension CoordinatorService {
    func handleEC2(_ request: EC2Request, id: String, _ tx: InventoryTransaction, _ now: Date) -> Outcome {
        let result = cloud.handle(request, tx, now, SiteOperations(coordinator: self))
        if let read = result.effects.consoleRead {
            return Outcome(reply: nil, consoleRead: (read, request.requestId))
        }
        return Outcome(reply: encode(result.reply, to: id), commands: Self.lastPerVEE(result.effects.commands),
                       events: result.effects.events, recordReply: result.changed)
    }

    func createAccount(_ request: CreateAccount, id: String, _ tx: InventoryTransaction, _ now: Date) throws -> Outcome {
        let account = try Accounts.create(request, tx, now)
        return Outcome(reply: encode(AccountReport(accounts: [account]), to: id), recordReply: true)
    }

    /// A VEE launched and activated in one call gets two commands; the agent needs only the last.
    static func lastPerVEE(_ commands: [VEEView]) -> [VEEView] {
        var seen = Set<String>()
        return commands.reversed().filter { seen.insert($0.id).inserted }.reversed()
    }

    /// Places VEEs (all or none); commands and events for them, and for anything preempted to make
    /// room, go into `outcome`.
    func place(_ admissions: [Admission], fields: [String], groups: Set<String>?, _ tx: InventoryTransaction,
               _ now: Date, _ outcome: inout Outcome) throws -> [VEEView] {
        let placement = configuration.placement
        var evicted: [Resident] = []
        let views = try tx.admit(admissions, at: now, networkPool: configuration.networkPool) { hosts, vees in
            let items = admissions.map {
                PlacementItem(name: $0.spec.name, resources: $0.spec.resources, image: $0.spec.image,
                              slaClass: placement.slaClass($0.slaClass.isEmpty ? nil : $0.slaClass),
                              allowedGroups: groups)
            }
            switch placement.scheduler.place(items, on: placement.hosts(hosts, vees)) {
            case .success(let plan):
                evicted = plan.preempted
                return plan.hosts
            case .failure(let failure):
                throw VMIError(code: .insufficientCapacity, field: fields[failure.index],
                               message: "cannot place '\(admissions[failure.index].spec.name)': \(failure.reason)")
            }
        }
        outcome.commands += views
        outcome.events += views.map {
            SiteEvent(kind: .veePlaced, host: $0.host, vee: $0.id, state: $0.desired,
                      message: "\($0.spec.name) placed on \($0.host)")
        }
        try relocate(evicted, tx, now, &outcome)
        return views
    }

    /// Applies a VEEUpdate; a FAILED VEE gets its command again even when the desired state stays (the retry).
    func control(_ vee: String, _ action: VEEAction, _ tx: InventoryTransaction, _ now: Date) throws
        -> (VEEView, resend: Bool) {
        let (view, changed) = try tx.updateDesired(vee, at: now) {
            try VEEStateMachine.target(of: action, from: $0.desired)
        }
        return (view, changed || view.observed == .failed)
    }
}

/// The site as the cloud engine sees it, inside the coordinator's transaction.
struct SiteOperations: CloudSiteOperations {
    let coordinator: CoordinatorService

    func launch(_ admissions: [Admission], zone: String?, _ tx: InventoryTransaction, _ now: Date,
                _ effects: inout CloudEffects) throws -> [VEEView] {
        var outcome = Outcome()
        let admissions = admissions.map { admission -> Admission in
            var admission = admission
            admission.slaClass = coordinator.configuration.placement.loneVEEClass
            return admission
        }
        let views = try coordinator.place(admissions, fields: admissions.map { _ in "ImageId" },
                                          groups: zone.map { [$0] }, tx, now, &outcome)
        try coordinator.record(outcome, tx, now)
        effects.commands += outcome.commands
        effects.events += outcome.events
        return views
    }

    func control(_ vee: String, _ action: VEEAction, _ tx: InventoryTransaction, _ now: Date,
                 _ effects: inout CloudEffects) throws -> VEEView {
        let (view, resend) = try coordinator.control(vee, action, tx, now)
        if resend { effects.commands.append(view) }
        return view
    }

    func resize(_ vee: VEEView, to spec: VEESpec, _ tx: InventoryTransaction, _ now: Date,
                _ effects: inout CloudEffects) throws -> VEEView? {
        let extra = Resources(cpus: spec.cpus - vee.spec.cpus, memoryMiB: spec.memoryMiB - vee.spec.memoryMiB,
                              diskGiB: spec.diskGiB - vee.spec.diskGiB)
        guard try coordinator.hasRoom(for: extra, vee, tx), let resized = try tx.updateSpec(vee.id, spec, at: now)
        else { return nil }
        effects.commands.append(resized)
        return resized
    }

    func submitService(_ manifest: String, _ tx: InventoryTransaction, _ now: Date,
                       _ effects: inout CloudEffects) throws -> ServiceView {
        try serviceCall(&effects, tx, now) { try coordinator.submitService(SubmitService(manifest: manifest), id: "",
                                                                            tx, now) }
    }

    func undeployService(_ name: String, _ tx: InventoryTransaction, _ now: Date,
                         _ effects: inout CloudEffects) throws -> ServiceView {
        try serviceCall(&effects, tx, now) { try coordinator.undeployService(UndeployService(service: name), id: "",
                                                                              tx, now) }
    }

    func service(_ name: String, _ tx: InventoryTransaction) throws -> ServiceView? {
        try coordinator.serviceView(name, tx)
    }

    /// Runs a service request as the VMI would, and hands back its view; every problem goes back in one EC2 error.
    private func serviceCall(_ effects: inout CloudEffects, _ tx: InventoryTransaction, _ now: Date,
                             _ body: () throws -> Outcome) throws -> ServiceView {
        do {
            let outcome = try body()
            try coordinator.record(outcome, tx, now)
            effects.commands += outcome.commands
            effects.events += outcome.events
            guard let reply = outcome.reply, let report = try VMI.open(reply).body as? ServiceReport,
                  let view = report.services.first
            else { throw EC2Error("InternalError", "no service view", status: 500) }
            return view
        } catch let errors as VMIErrors {
            throw EC2Error("InvalidParameterValue", "Invalid value for parameter Manifest: "
                + errors.all.map { "\($0.field ?? "manifest"): \($0.message)" }.joined(separator: "; "))
        } catch let error as VMIError where error.code == .duplicateName {
            throw EC2Error("InvalidService.Duplicate", error.message)
        }
    }
}

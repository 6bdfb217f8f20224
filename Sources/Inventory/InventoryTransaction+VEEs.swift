import Foundation
import GRDB
import VMI

/// A VEE as stored.
struct VEERow: FetchableRecord {
    var id: String
    var name: String
    var spec: VEESpec
    var host: String
    var desired: VEEState
    var observed: VEEState
    var generation: Int
    var lastError: String?
    var updatedAt: Date
    var slaClass: String?
    var service: String?
    var component: String?
    var reboots: Int
    var interfaces: [VEEInterface]?

    init(row: Row) throws {
        id = row["id"]
        name = row["name"]
        spec = try InventoryCoding.spec(row["spec"])
        host = row["host"]
        desired = VEEState(rawValue: row["desired"]) ?? .failed
        observed = VEEState(rawValue: row["observed"]) ?? .failed
        generation = row["generation"]
        lastError = row["last_error"]
        updatedAt = row["updated_at"]
        slaClass = row["sla_class"]
        service = row["service"]
        component = row["component"]
        reboots = row["reboots"]
        interfaces = InventoryCoding.interfaces(row["interfaces"])
    }

    var view: VEEView {
        VEEView(id: id, spec: spec, host: host, desired: desired, observed: observed, lastError: lastError,
                generation: generation, updatedAt: updatedAt, slaClass: slaClass, service: service,
                component: component, reboots: reboots == 0 ? nil : reboots, interfaces: interfaces)
    }
}

/// A VEE to admit: its spec, and what it belongs to.
public struct Admission: Sendable {
    public var spec: VEESpec
    public var slaClass: String
    public var service: String?
    public var component: String?
    /// One per network of the spec, in its order; none when empty.
    public var networks: [NetworkRequest]

    public init(spec: VEESpec, slaClass: String, service: String? = nil, component: String? = nil,
                networks: [NetworkRequest]? = nil) {
        self.spec = spec
        self.networks = networks ?? spec.networks.map { NetworkRequest(scope: service ?? "", name: $0) }
        self.slaClass = slaClass
        self.service = service
        self.component = component
    }
}

extension InventoryTransaction {
    /// Places new VEEs: checks names against the live ones and `decide`s hosts on the same snapshot, so two
    /// requests can never both take the last room on a host. Throws (having written nothing) when a name is taken
    /// or `decide` throws.
    public func admit(_ admissions: [Admission], at date: Date, networkPool: NetworkPool = .default,
                      decide: ([HostView], SiteFootprint) throws -> [String]) throws -> [VEEView] {
        let specs = admissions.map(\.spec)
        var names = Set<String>()
        for (index, spec) in specs.enumerated() {
            let taken = try Bool.fetchOne(db.cachedStatement(sql: """
                SELECT 1 FROM vees WHERE name = ? AND desired != 'DESTROYED'
                """), arguments: [spec.name]) ?? false
            if taken || !names.insert(spec.name).inserted {
                throw VMIError(code: .duplicateName, field: specs.count == 1 ? "vee.name" : "vees[\(index)].name",
                               message: "a VEE named '\(spec.name)' already exists")
            }
        }
        let site = try footprint()
        let hosts = try decide(hosts(site), site)
        var views: [VEEView] = []
        for (admission, host) in zip(admissions, hosts) {
            let spec = admission.spec
            var view = VEEView(id: RandomID.uuid(), spec: spec, host: host, desired: .defined,
                               observed: .pending, updatedAt: date, slaClass: admission.slaClass,
                               service: admission.service, component: admission.component)
            let interfaces = try attachInterfaces(vee: view.id, networks: admission.networks, pool: networkPool)
            view.interfaces = interfaces.isEmpty ? nil : interfaces
            try execute(sql: """
                INSERT INTO vees (id, name, spec, host, desired, observed, generation, created_at, updated_at,
                                  sla_class, service, component, interfaces)
                VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)
                """, arguments: [view.id, spec.name,
                                 String(decoding: try InventoryCoding.encoder.encode(spec), as: UTF8.self),
                                 host, view.desired.rawValue, view.observed.rawValue, date, date, admission.slaClass,
                                 admission.service, admission.component,
                                 try view.interfaces.map { String(decoding: try InventoryCoding.encoder.encode($0),
                                                                  as: UTF8.self) }])
            try appendEvent(SiteEvent(kind: .veePlaced, host: host, vee: view.id, state: .defined,
                                      message: "\(spec.name) placed on \(host)"), at: date)
            views.append(view)
        }
        return views
    }

    /// A VEE by id, or by name among those not destroyed (the newest destroyed one otherwise).
    public func vee(_ idOrName: String) throws -> VEEView? {
        try fetchVEE(idOrName: idOrName)?.view
    }

    /// By id, then by name: two index lookups (one `id = ? OR name = ?` query scans the whole table).
    func fetchVEE(idOrName: String) throws -> VEERow? {
        try fetchVEE(sql: "SELECT * FROM vees WHERE id = ?", arguments: [idOrName])
            ?? fetchVEE(sql: """
                SELECT * FROM vees WHERE name = ? ORDER BY (desired != 'DESTROYED') DESC, created_at DESC LIMIT 1
                """, arguments: [idOrName])
    }

    public func vees() throws -> [VEEView] {
        try fetchVEEs(sql: "SELECT * FROM vees ORDER BY created_at, name").map(\.view)
    }

    /// What the VEEs not destroyed take on their hosts. In a write transaction it comes from the inventory's cache,
    /// which reads only the VEEs changed since its last use.
    public func footprint() throws -> SiteFootprint {
        try footprints?.current(db) ?? FootprintCache.load(db)
    }

    public func vees(onHost host: String) throws -> [VEEView] {
        try fetchVEEs(sql: "SELECT * FROM vees WHERE host = ?", arguments: [host]).map(\.view)
    }

    /// Applies `transition` to a VEE's desired state; bumps the generation when it changes.
    public func updateDesired(_ idOrName: String, at date: Date,
                              transition: (VEEView) throws -> VEEState) throws -> (VEEView, changed: Bool) {
        guard let row = try fetchVEE(idOrName: idOrName)
        else { throw VMIError(code: .unknownVEE, field: "vee", message: "no VEE has id or name '\(idOrName)'") }
        let target = try transition(row.view)
        guard target != row.desired else { return (row.view, false) }
        try execute(sql: """
            UPDATE vees SET desired = ?, generation = generation + 1, last_error = NULL, updated_at = ?
            WHERE id = ?
            """, arguments: [target.rawValue, date, row.id])
        var view = row.view
        view.desired = target
        view.generation += 1
        view.lastError = nil
        view.updatedAt = date
        return (view, true)
    }

    /// Records what a host reports. Returns the updated view when something changed; nil for an unknown VEE or a
    /// report that repeats the known state.
    public func observe(_ observation: VEEObservation, from host: String, at date: Date) throws -> VEEView? {
        guard let row = try fetchVEE(sql: "SELECT * FROM vees WHERE id = ?",
                                            arguments: [observation.vee]),
              row.host == host
        else { return nil }
        guard row.observed != observation.state || row.lastError != observation.error else { return nil }
        try execute(sql: "UPDATE vees SET observed = ?, last_error = ?, updated_at = ? WHERE id = ?",
                       arguments: [observation.state.rawValue, observation.error, date, row.id])
        // Gone from its host: its addresses may be handed out again.
        if observation.state == .destroyed, row.interfaces != nil { try releaseInterfaces(vee: row.id) }
        let kind: SiteEvent.Kind = observation.state == .failed ? .veeFailed : .veeStateChanged
        try appendEvent(SiteEvent(kind: kind, host: host, vee: row.id, state: observation.state,
                                  message: "\(row.name) is \(observation.state.rawValue)"
                                      + (observation.error.map { ": \($0)" } ?? "")), at: date)
        var view = row.view
        view.observed = observation.state
        view.lastError = observation.error
        view.updatedAt = date
        return view
    }

    /// Moves a VEE to another host (a cold move after preemption): it is PENDING there, with its desired state kept
    /// and a new generation.
    public func move(_ vee: String, to host: String, at date: Date) throws -> VEEView? {
        try execute(sql: """
            UPDATE vees SET host = ?, observed = 'PENDING', generation = generation + 1, last_error = NULL,
                updated_at = ? WHERE id = ?
            """, arguments: [host, date, vee])
        return try fetchVEE(sql: "SELECT * FROM vees WHERE id = ?", arguments: [vee])?.view
    }

    /// Takes a state the guest reached by itself (it powered off) as the desired one, so convergence does not undo it.
    public func adoptObserved(_ vee: String, at date: Date) throws -> VEEView? {
        guard let row = try fetchVEE(sql: "SELECT * FROM vees WHERE id = ?", arguments: [vee]),
              row.observed.isStable, row.observed != row.desired, row.desired != .destroyed
        else { return nil }
        try execute(sql: """
            UPDATE vees SET desired = observed, generation = generation + 1, updated_at = ? WHERE id = ?
            """, arguments: [date, vee])
        var view = row.view
        view.desired = row.observed
        view.generation += 1
        return view
    }

    /// VEEs whose host has not yet reported the desired state, on hosts that are up.
    public func unconverged() throws -> [VEEView] {
        try fetchVEEs(sql: """
            SELECT vees.* FROM vees JOIN hosts ON hosts.id = vees.host
            WHERE hosts.state = 'UP' AND vees.desired != vees.observed AND vees.observed != 'FAILED'
            """).map(\.view)
    }
}

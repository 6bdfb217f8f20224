import Foundation
import GRDB
import Synchronization
import VMI

/// What a live VEE (one not destroyed) takes on its host: all that placement needs to know of it.
public struct VEEFootprint: Sendable, Equatable {
    public var vee: String
    public var host: String
    public var resources: Resources
    public var slaClass: String?
    public var service: String?
    public var component: String?

    public init(vee: String, host: String, resources: Resources, slaClass: String? = nil, service: String? = nil,
                component: String? = nil) {
        self.vee = vee
        self.host = host
        self.resources = resources
        self.slaClass = slaClass
        self.service = service
        self.component = component
    }
}

/// The live VEEs' footprints, by host. VEEs of services are kept one by one (placement spreads them); lone VEEs
/// also by class, with their sum per class, so a placement that only needs the sum does not look at each.
public struct SiteFootprint: Sendable, Equatable {
    struct Host: Sendable, Equatable {
        var services: [String: VEEFootprint] = [:]
        var lone: [String?: [String: VEEFootprint]] = [:]
        var loneTotals: [String?: Resources] = [:]
        var allocated = Resources.zero
        var isEmpty: Bool { services.isEmpty && lone.isEmpty }
    }

    private var hosts: [String: Host] = [:]
    private var hostOf: [String: String] = [:]

    public init(_ footprints: [VEEFootprint] = []) {
        footprints.forEach { add($0) }
    }

    public var count: Int { hostOf.count }

    /// Every live VEE on `host`, in no particular order.
    public func footprints(on host: String) -> [VEEFootprint] {
        guard let entry = hosts[host] else { return [] }
        return Array(entry.services.values) + entry.lone.values.flatMap(\.values)
    }

    /// Whether `vee` is live and belongs to a service.
    public func isInService(_ vee: String) -> Bool {
        hostOf[vee].flatMap { hosts[$0]?.services[vee] } != nil
    }

    /// The live VEEs of services on `host`.
    public func serviceFootprints(on host: String) -> [VEEFootprint] { hosts[host].map { Array($0.services.values) } ?? [] }

    /// The lone live VEEs of class `slaClass` on `host`.
    public func loneFootprints(on host: String, slaClass: String?) -> [VEEFootprint] {
        hosts[host]?.lone[slaClass].map { Array($0.values) } ?? []
    }

    /// What the lone live VEEs on `host` take together, by class.
    public func loneTotals(on host: String) -> [String?: Resources] { hosts[host]?.loneTotals ?? [:] }

    /// What the live VEEs on `host` take together.
    public func allocated(on host: String) -> Resources { hosts[host]?.allocated ?? .zero }

    mutating func add(_ footprint: VEEFootprint) {
        remove(footprint.vee)
        hostOf[footprint.vee] = footprint.host
        hosts[footprint.host, default: Host()].add(footprint)
    }

    mutating func remove(_ vee: String) {
        guard let host = hostOf.removeValue(forKey: vee) else { return }
        hosts[host]?.remove(vee)
        if hosts[host]?.isEmpty == true { hosts[host] = nil }
    }
}

extension SiteFootprint.Host {
    mutating func add(_ footprint: VEEFootprint) {
        if footprint.service != nil {
            services[footprint.vee] = footprint
        } else {
            lone[footprint.slaClass, default: [:]][footprint.vee] = footprint
            loneTotals[footprint.slaClass] = (loneTotals[footprint.slaClass] ?? .zero) + footprint.resources
        }
        allocated = allocated + footprint.resources
    }

    mutating func remove(_ vee: String) {
        var removed = services.removeValue(forKey: vee)
        if removed == nil {
            for slaClass in lone.keys {
                guard let footprint = lone[slaClass]?.removeValue(forKey: vee) else { continue }
                removed = footprint
                loneTotals[slaClass] = (loneTotals[slaClass] ?? .zero) - footprint.resources
                if lone[slaClass]?.isEmpty == true {
                    lone[slaClass] = nil
                    loneTotals[slaClass] = nil
                }
                break
            }
        }
        if let removed { allocated = allocated - removed.resources }
    }
}

/// The site's footprint kept between write transactions, so that each placement reads only the VEEs that changed
/// since the last one, not every VEE. Triggers (migration v6) name each changed VEE in `footprint_changes`, whatever
/// code changed it; `current` re-reads those and empties the list. Whatever was read inside a transaction or
/// savepoint that is then rolled back is read again before its next use, so the cache never outlives a rollback;
/// a commit by another connection makes it read everything again.
final class FootprintCache: TransactionObserver, Sendable {
    private struct State {
        var site: SiteFootprint?
        /// `PRAGMA data_version` when `site` was last brought up to date: it changes only with other connections'
        /// commits (a second `Inventory` on the same file, an operator's sqlite3), which the cache cannot follow.
        var dataVersion: Int?
        /// VEEs to read again before the next use.
        var stale: Set<String> = []
        /// VEEs read in the open transaction: stale again if it, or a savepoint in it, rolls back.
        var readInTransaction: Set<String> = []
        var loadedInTransaction = false
    }

    private let state = Mutex(State())

    /// The footprint as the open write transaction `db` sees it.
    func current(_ db: Database) throws -> SiteFootprint {
        try state.withLock { state in
            let changed = try String.fetchAll(db.cachedStatement(sql: "SELECT vee FROM footprint_changes"))
            if !changed.isEmpty { try db.cachedStatement(sql: "DELETE FROM footprint_changes").execute() }
            // Another connection's commit (it may have emptied the list itself) shows as a new data version.
            let version = try Int.fetchOne(db.cachedStatement(sql: "PRAGMA data_version"))
            guard var site = state.site, version == state.dataVersion else {
                let site = try Self.load(db)
                state = State(site: site, dataVersion: version, loadedInTransaction: true)
                return site
            }
            state.site = nil  // `site` is now the only reference: patched in place, not copied
            let ids = state.stale.union(changed)
            for vee in ids {
                site.remove(vee)
                if let footprint = try Self.fetch(db, sql: Self.query + " AND id = ?", arguments: [vee]).first {
                    site.add(footprint)
                }
            }
            state.readInTransaction.formUnion(ids)
            state.stale = []
            state.site = site
            return site
        }
    }

    /// A savepoint or the transaction rolled back.
    func rolledBack() {
        state.withLock { state in
            if state.loadedInTransaction {
                state = State()
            } else {
                state.stale.formUnion(state.readInTransaction)
            }
        }
    }

    static let query = "SELECT id, host, spec, sla_class, service, component FROM vees WHERE desired != 'DESTROYED'"

    /// Every live VEE's footprint (also what a read transaction uses, having no cache).
    static func load(_ db: Database) throws -> SiteFootprint {
        SiteFootprint(try fetch(db, sql: query))
    }

    private static func fetch(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> [VEEFootprint] {
        var footprints: [VEEFootprint] = []
        let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: arguments)
        while let row = try rows.next() {
            footprints.append(VEEFootprint(vee: row[0], host: row[1], resources: try InventoryCoding.spec(row[2]).resources,
                                           slaClass: row[3], service: row[4], component: row[5]))
        }
        return footprints
    }

    // TransactionObserver: only the ends of transactions matter here.
    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
    func databaseDidChange(with event: DatabaseEvent) {}

    func databaseDidCommit(_ db: Database) {
        state.withLock { state in
            state.readInTransaction = []
            state.loadedInTransaction = false
        }
    }

    func databaseDidRollback(_ db: Database) { rolledBack() }
}

import Foundation
import GRDB
import VMI

/// The site inventory: hosts, VEEs (desired and observed state), events, processed requests and the latest
/// monitoring samples, in one SQLite file (WAL). Every write is one transaction, so a crash loses nothing that
/// was acknowledged.
public final class Inventory: Sendable {
    let database: DatabasePool

    /// Opens (creating if needed) the inventory at `path` and migrates it to the current schema.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.label = "veem.inventory"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        database = try DatabasePool(path: path, configuration: configuration)
        try InventorySchema.migrator.migrate(database)
    }

    /// Names of the migrations applied, oldest first.
    public func appliedMigrations() async throws -> [String] {
        try await database.read { try InventorySchema.migrator.appliedMigrations($0) }
    }

    // MARK: Requests (idempotency)

    /// The reply already sent for request `id`, if it was processed before (a re-delivery).
    public func reply(forRequest id: String) async throws -> [UInt8]? {
        try await database.read { db in
            try Data.fetchOne(db, sql: "SELECT reply FROM requests WHERE id = ?", arguments: [id]).map { Array($0) }
        }
    }

    /// Records the reply to request `id`, so a re-delivered request gets the same answer and changes nothing.
    public func recordReply(_ reply: [UInt8], forRequest id: String, at date: Date) async throws {
        try await database.write { db in try Self.recordReply(reply, forRequest: id, at: date, db) }
    }

    static func recordReply(_ reply: [UInt8], forRequest id: String, at date: Date, _ db: Database) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO requests (id, reply, at) VALUES (?, ?, ?)",
                       arguments: [id, Data(reply), date])
    }

    // MARK: Events

    public func appendEvent(_ event: SiteEvent, at date: Date) async throws {
        try await database.write { db in try Self.insert(event, at: date, db) }
    }

    /// The most recent events, oldest first.
    public func events(limit: Int = 100) async throws -> [(Date, SiteEvent)] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM (SELECT * FROM events ORDER BY seq DESC LIMIT ?) ORDER BY seq
                """, arguments: [limit]).map { row in
                (row["at"], SiteEvent(kind: SiteEvent.Kind(rawValue: row["kind"]) ?? .veeStateChanged,
                                      host: row["host"], vee: row["vee"],
                                      state: (row["state"] as String?).flatMap(VEEState.init(rawValue:)),
                                      message: row["message"]))
            }
        }
    }

    static func insert(_ event: SiteEvent, at date: Date, _ db: Database) throws {
        try db.execute(sql: "INSERT INTO events (at, kind, host, vee, state, message) VALUES (?, ?, ?, ?, ?, ?)",
                       arguments: [date, event.kind.rawValue, event.host, event.vee, event.state?.rawValue,
                                   event.message])
    }

    // MARK: Monitoring samples

    /// Stores the latest value of each metric (`source` = "metric") or KPI (`source` = "kpi") of a VEE.
    public func recordSamples(vee: String, source: String, values: [String: Double], at date: Date) async throws {
        try await database.write { db in
            for (name, value) in values {
                try db.execute(sql: """
                    INSERT INTO samples (vee, source, name, value, at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (vee, source, name) DO UPDATE SET value = excluded.value, at = excluded.at
                    """, arguments: [vee, source, name, value, date])
            }
        }
    }

    /// The latest samples of one VEE, or of all when `vee` is nil.
    public func monitoring(vee: String?) async throws -> [VEEMonitoring] {
        try await database.read { db in
            let vees = try VEERow.fetchAll(db, sql: "SELECT * FROM vees WHERE (? IS NULL OR id = ?) ORDER BY name",
                                           arguments: [vee, vee])
            return try vees.map { row in
                var report = VEEMonitoring(vee: row.id, name: row.name, metrics: [:], kpis: [:], updatedAt: nil)
                for sample in try Row.fetchAll(db, sql: "SELECT * FROM samples WHERE vee = ?", arguments: [row.id]) {
                    let at: Date = sample["at"]
                    if (sample["source"] as String) == "kpi" {
                        report.kpis[sample["name"]] = sample["value"]
                    } else {
                        report.metrics[sample["name"]] = sample["value"]
                    }
                    report.updatedAt = max(report.updatedAt ?? at, at)
                }
                return report
            }
        }
    }
}

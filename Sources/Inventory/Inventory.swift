import Foundation
import GRDB
import Synchronization
import VMI

/// The site inventory: hosts, VEEs (desired and observed state), events, processed requests and the latest
/// monitoring samples, in one SQLite file (WAL). Work runs on GRDB's own queues, never on Swift's cooperative
/// threads. Each `write` is one transaction, so a crash loses nothing that was acknowledged after it.
public final class Inventory: Sendable {
    let database: DatabasePool
    let footprints = FootprintCache()
    /// The file, for errors an operator must act on.
    public let path: String
    private let lastRefusal = Mutex<ContinuousClock.Instant?>(nil)

    /// How long writes have gone through since one was last refused (disk full, read-only); nil if none ever was.
    /// What is judged from recorded facts (a host's heartbeats) waits until writes have worked for long enough.
    public var writableFor: Duration? { lastRefusal.withLock { $0.map { ContinuousClock.now - $0 } } }

    /// Opens (creating if needed) the inventory at `path` and migrates it to the current schema.
    public init(path: String) throws {
        self.path = path
        do {
            database = try Self.open(path)
        } catch let error as DatabaseError {
            throw InventoryUnavailable(path: path, error: error, opening: true)
        }
        database.add(transactionObserver: footprints, extent: .databaseLifetime)
    }

    /// Opens an inventory another process keeps (a running coordinator's) for reading only: no migration, no
    /// write lock taken, so it never waits on, or stalls, the writer.
    public init(readingOnly path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        configuration.label = "veem.inventory.reader"
        do {
            database = try DatabasePool(path: path, configuration: configuration)
        } catch let error as DatabaseError {
            throw InventoryUnavailable(path: path, error: error, opening: true)
        }
    }

    private static func open(_ path: String) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.label = "veem.inventory"
        // Sorts and statement journals stay in memory: as files, every request created and deleted one in /var/tmp.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA temp_store = MEMORY") }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let database = try DatabasePool(path: path, configuration: configuration)
        try InventorySchema.migrator.migrate(database)
        // A file SQLite can read but not write (a read-only mount that kept its -wal and -shm) must stop the
        // daemon now, not refuse every write later.
        try database.write { db in try db.execute(sql: "CREATE TABLE veem_write_probe (x); DROP TABLE veem_write_probe") }
        return database
    }

    /// Runs `body` in one write transaction: all of it commits, or none. When the file cannot take writes (disk
    /// full, read-only), throws `InventoryUnavailable` and nothing was changed.
    public func write<T: Sendable>(_ body: @escaping @Sendable (InventoryTransaction) throws -> T) async throws -> T {
        do {
            return try await database.write { [footprints] db in
                try body(InventoryTransaction(db: db, footprints: footprints))
            }
        } catch let error as DatabaseError where InventoryUnavailable.covers(error) {
            lastRefusal.withLock { $0 = .now }
            throw InventoryUnavailable(path: path, error: error, opening: false)
        }
    }

    /// Runs `body` on a consistent snapshot.
    public func read<T: Sendable>(_ body: @escaping @Sendable (InventoryTransaction) throws -> T) async throws -> T {
        try await database.read { db in try body(InventoryTransaction(db: db)) }
    }

    /// Names of the migrations applied, oldest first.
    public func appliedMigrations() async throws -> [String] {
        try await database.read { try InventorySchema.migrator.appliedMigrations($0) }
    }
}

/// The inventory's operations inside one transaction (from `Inventory.write` or `read`).
public struct InventoryTransaction {
    let db: Database
    /// The site's footprint between writes; nil in read transactions, which compute it afresh.
    var footprints: FootprintCache? = nil

    /// Runs `body` in a savepoint: when it throws, what it wrote is undone and the error rethrown, while the
    /// enclosing transaction goes on. One refused request in a batch changes nothing.
    public func isolated<T>(_ body: () throws -> T) throws -> T {
        var result: Result<T, Error>!
        try db.inSavepoint {
            result = Result { try body() }
            if case .failure = result {
                footprints?.rolledBack()
                return .rollback
            }
            return .commit
        }
        return try result.get()
    }

    /// Statements are compiled once per connection: the coordinator runs the same few at high rates.
    func execute(sql: String, arguments: StatementArguments = []) throws {
        try db.cachedStatement(sql: sql).execute(arguments: arguments)
    }

    func fetchVEE(sql: String, arguments: StatementArguments = []) throws -> VEERow? {
        try VEERow.fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
    }

    func fetchVEEs(sql: String, arguments: StatementArguments = []) throws -> [VEERow] {
        try VEERow.fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
    }

    // MARK: Requests (idempotency)

    /// The reply already sent for request `id`, if it was processed before (a re-delivery).
    public func reply(forRequest id: String) throws -> [UInt8]? {
        try Data.fetchOne(db.cachedStatement(sql: "SELECT reply FROM requests WHERE id = ?"), arguments: [id])
            .map { Array($0) }
    }

    /// Records the reply to request `id`, so a re-delivered request gets the same answer and changes nothing.
    public func recordReply(_ reply: [UInt8], forRequest id: String, at date: Date) throws {
        try execute(sql: "INSERT OR REPLACE INTO requests (id, reply, at) VALUES (?, ?, ?)",
                       arguments: [id, Data(reply), date])
    }

    /// Drops recorded replies older than `date`; a request re-sent after that is treated as new.
    public func forgetReplies(before date: Date) throws {
        try execute(sql: "DELETE FROM requests WHERE at < ?", arguments: [date])
    }

    // MARK: Events

    public func appendEvent(_ event: SiteEvent, at date: Date) throws {
        try execute(sql: "INSERT INTO events (at, kind, host, vee, state, message) VALUES (?, ?, ?, ?, ?, ?)",
                       arguments: [date, event.kind.rawValue, event.host, event.vee, event.state?.rawValue,
                                   event.message])
    }

    /// The most recent events, oldest first.
    public func events(limit: Int = 100) throws -> [SiteEvent] {
        try Row.fetchAll(db, sql: "SELECT * FROM (SELECT * FROM events ORDER BY seq DESC LIMIT ?) ORDER BY seq",
                         arguments: [limit]).map { row in
            SiteEvent(kind: SiteEvent.Kind(rawValue: row["kind"]) ?? .veeStateChanged, host: row["host"],
                      vee: row["vee"], state: (row["state"] as String?).flatMap(VEEState.init(rawValue:)),
                      message: row["message"], at: row["at"])
        }
    }

    // MARK: Monitoring samples

    /// Stores the latest value of each metric (`source` = "metric") or KPI (`source` = "kpi") of a VEE, and, with
    /// `history`, keeps the history elasticity rules aggregate over.
    public func recordSamples(vee: String, source: String, values: [String: Double], at date: Date,
                              history: Bool = true) throws {
        for (name, value) in values {
            if history {
                try execute(sql: "INSERT INTO kpi_history (vee, name, value, at) VALUES (?, ?, ?, ?)",
                            arguments: [vee, name, value, date])
            }
            try execute(sql: """
                INSERT INTO samples (vee, source, name, value, at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (vee, source, name) DO UPDATE SET value = excluded.value, at = excluded.at
                """, arguments: [vee, source, name, value, date])
        }
    }

    /// The latest samples of one VEE (by id), or of all when `vee` is nil.
    public func monitoring(vee: String?) throws -> [VEEMonitoring] {
        let vees = try fetchVEEs(sql: "SELECT * FROM vees WHERE (? IS NULL OR id = ?) ORDER BY name",
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

/// The inventory file cannot be opened or written: the disk is full, the file or its directory is read-only, or
/// the storage fails. Names the file and what SQLite said; the transaction that met it changed nothing.
public struct InventoryUnavailable: Error, CustomStringConvertible {
    public let path: String
    public let reason: String

    init(path: String, error: DatabaseError, opening: Bool) {
        self.path = path
        var reason = error.message ?? "\(error.resultCode)"
        switch error.resultCode {
        case .SQLITE_FULL: reason += " (the disk holding it is full)"
        case .SQLITE_READONLY, .SQLITE_CANTOPEN: reason += " (the file or its directory is read-only or missing)"
        default: break
        }
        self.reason = (opening ? "cannot open " : "cannot write ") + "the site inventory \(path): \(reason)"
    }

    /// Errors of the file or its storage, as opposed to a bug in one transaction.
    static func covers(_ error: DatabaseError) -> Bool {
        [.SQLITE_FULL, .SQLITE_READONLY, .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_PERM]
            .contains(error.resultCode)
    }

    public var description: String { reason }
}

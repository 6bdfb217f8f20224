import Foundation
import GRDB
import VMI

/// A service as stored: its manifest text, state, and each component's desired replica count.
public struct ServiceRecord: Sendable, Equatable {
    public var name: String
    public var manifest: String
    public var state: ServiceState
    public var error: String?
    public var components: [String: ComponentRecord]
}

public struct ComponentRecord: Sendable, Equatable {
    public var desiredReplicas: Int
    /// The last time a rule or an operator changed it (cooldowns count from here).
    public var lastActionAt: Date?
    /// CPUs per replica set by a `CPU(C) = …` rule; nil: the manifest's.
    public var cpus: Int?
    /// Why it has fewer replicas than desired (no host has room, say); nil when it has them all.
    public var shortfall: String? = nil
}

extension InventoryTransaction {
    /// Records a new service; a name is taken until its service is undeployed.
    public func insertService(_ name: String, manifest: String, replicas: [String: Int], at date: Date) throws {
        if let state = try String.fetchOne(db, sql: "SELECT state FROM services WHERE name = ?", arguments: [name]) {
            guard state == ServiceState.undeployed.rawValue else {
                throw VMIError(code: .duplicateName, field: "service", message: "a service named '\(name)' exists")
            }
            try execute(sql: "DELETE FROM services WHERE name = ?", arguments: [name])
            try execute(sql: "DELETE FROM components WHERE service = ?", arguments: [name])
        }
        try execute(sql: """
            INSERT INTO services (name, manifest, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
            """, arguments: [name, manifest, ServiceState.deploying.rawValue, date, date])
        for (component, count) in replicas {
            try execute(sql: "INSERT INTO components (service, name, desired_replicas) VALUES (?, ?, ?)",
                        arguments: [name, component, count])
        }
    }

    public func serviceRecords(including undeployed: Bool = false) throws -> [ServiceRecord] {
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM services ORDER BY name")
        let components = try Row.fetchAll(db, sql: "SELECT * FROM components")
        let byService = Dictionary(grouping: components) { $0["service"] as String }
        return rows.compactMap { row in
            let state = ServiceState(rawValue: row["state"]) ?? .failed
            if !undeployed && state == .undeployed { return nil }
            let name: String = row["name"]
            return ServiceRecord(
                name: name, manifest: row["manifest"], state: state, error: row["error"],
                components: Dictionary(uniqueKeysWithValues: (byService[name] ?? []).map {
                    ($0["name"] as String,
                     ComponentRecord(desiredReplicas: $0["desired_replicas"], lastActionAt: $0["last_action_at"],
                                     cpus: $0["cpus"], shortfall: $0["shortfall"]))
                }))
        }
    }

    public func serviceRecord(_ name: String) throws -> ServiceRecord? {
        try serviceRecords(including: true).first { $0.name == name }
    }

    /// Returns true when the state changed.
    @discardableResult
    public func setServiceState(_ name: String, _ state: ServiceState, error: String? = nil, at date: Date) throws -> Bool {
        let previous = try String.fetchOne(db, sql: "SELECT state FROM services WHERE name = ?", arguments: [name])
        guard previous != state.rawValue else { return false }
        try execute(sql: "UPDATE services SET state = ?, error = ?, updated_at = ? WHERE name = ?",
                    arguments: [state.rawValue, error, date, name])
        return true
    }

    public func setDesiredReplicas(service: String, component: String, _ replicas: Int, at date: Date) throws {
        try execute(sql: """
            UPDATE components SET desired_replicas = ?, last_action_at = ? WHERE service = ? AND name = ?
            """, arguments: [replicas, date, service, component])
    }

    /// Records why a component lacks replicas (nil: it has them all); returns whether that changed.
    @discardableResult
    public func setShortfall(service: String, component: String, _ reason: String?) throws -> Bool {
        try execute(sql: """
            UPDATE components SET shortfall = ? WHERE service = ? AND name = ? AND shortfall IS NOT ?
            """, arguments: [reason, service, component, reason])
        return db.changesCount > 0
    }

    public func setComponentCPUs(service: String, component: String, _ cpus: Int, at date: Date) throws {
        try execute(sql: "UPDATE components SET cpus = ?, last_action_at = ? WHERE service = ? AND name = ?",
                    arguments: [cpus, date, service, component])
    }

    /// Asks for one more reboot of a VEE; bumps its generation so its host carries it out.
    public func requestReboot(_ vee: String, at date: Date) throws -> VEEView? {
        try execute(sql: """
            UPDATE vees SET reboots = reboots + 1, generation = generation + 1, updated_at = ? WHERE id = ?
            """, arguments: [date, vee])
        return try fetchVEE(sql: "SELECT * FROM vees WHERE id = ?", arguments: [vee])?.view
    }

    /// Replaces a VEE's spec (a resize); bumps its generation so its host records the new one.
    public func updateSpec(_ vee: String, _ spec: VEESpec, at date: Date) throws -> VEEView? {
        try execute(sql: """
            UPDATE vees SET spec = ?, generation = generation + 1, updated_at = ? WHERE id = ?
            """, arguments: [String(decoding: try InventoryCoding.encoder.encode(spec), as: UTF8.self), date, vee])
        return try fetchVEE(sql: "SELECT * FROM vees WHERE id = ?", arguments: [vee])?.view
    }

    /// The VEEs of a service its hosts have not yet destroyed (some may be on their way), oldest first.
    public func vees(ofService service: String) throws -> [VEEView] {
        try fetchVEEs(sql: """
            SELECT * FROM vees WHERE service = ? AND observed != 'DESTROYED' ORDER BY created_at, name
            """, arguments: [service]).map(\.view)
    }

    /// Samples of `name` from `vees` since `date`, per VEE, oldest first.
    public func history(of name: String, vees: [String], since date: Date) throws -> [String: [Double]] {
        var result: [String: [Double]] = [:]
        for vee in vees {
            result[vee] = try Double.fetchAll(db.cachedStatement(sql: """
                SELECT value FROM kpi_history WHERE vee = ? AND name = ? AND at >= ? ORDER BY at
                """), arguments: [vee, name, date])
        }
        return result
    }

    /// Drops history older than `date`.
    public func forgetHistory(before date: Date) throws {
        try execute(sql: "DELETE FROM kpi_history WHERE at < ?", arguments: [date])
    }
}

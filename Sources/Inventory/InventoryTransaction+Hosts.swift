import Foundation
import GRDB
import VMI

extension InventoryTransaction {
    /// Records a host's registration and marks it up. Returns true when it was not up before.
    @discardableResult
    public func register(_ registration: HostRegistration, at date: Date) throws -> Bool {
        let previous = try String.fetchOne(db, sql: "SELECT state FROM hosts WHERE id = ?",
                                           arguments: [registration.host])
        let images = String(decoding: try InventoryCoding.encoder.encode(registration.images.sorted()), as: UTF8.self)
        try execute(sql: """
            INSERT INTO hosts (id, hypervisor, domain_type, cpus, memory_mib, disk_gib, images, state,
                               last_heartbeat, registered_at, host_group, underlay)
            VALUES (?, ?, ?, ?, ?, ?, ?, 'UP', ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET hypervisor = excluded.hypervisor, domain_type = excluded.domain_type,
                cpus = excluded.cpus, memory_mib = excluded.memory_mib, disk_gib = excluded.disk_gib,
                images = excluded.images, state = 'UP', last_heartbeat = excluded.last_heartbeat,
                host_group = excluded.host_group, underlay = excluded.underlay
            """, arguments: [registration.host, registration.hypervisor, registration.domainType,
                             registration.capacity.cpus, registration.capacity.memoryMiB,
                             registration.capacity.diskGiB, images, date, date, registration.group ?? "default",
                             registration.underlay])
        return previous != HostState.up.rawValue
    }

    /// What a heartbeat meant.
    public enum HeartbeatResult: Sendable { case known, cameBack, unknown, stale }

    /// Notes a heartbeat: from a known host, one that was DOWN and is back, or one the inventory does not know.
    /// A heartbeat read late from a backlog of reports that the host sent (`sentAt`, its clock) before the silence
    /// it was judged DOWN for (more than `window` before the judgement) confirms the judgement: the host stays DOWN.
    /// One sent within the window disproves it (the coordinator, not the host, was behind), and the host is back.
    @discardableResult
    public func heartbeat(host: String, at date: Date, sentAt: Date? = nil, window: TimeInterval = 0) throws
        -> HeartbeatResult {
        let previous = try String.fetchOne(db.cachedStatement(sql: "SELECT state FROM hosts WHERE id = ?"),
                                           arguments: [host])
        guard let previous else { return .unknown }
        let down = previous == HostState.down.rawValue
        if down, let sentAt, let judged = try Date.fetchOne(db, sql: """
            SELECT MAX(at) FROM events WHERE host = ? AND kind = ?
            """, arguments: [host, SiteEvent.Kind.hostDown.rawValue]), sentAt < judged.addingTimeInterval(-window) {
            return .stale
        }
        try execute(sql: "UPDATE hosts SET last_heartbeat = ?, state = 'UP' WHERE id = ?",
                       arguments: [date, host])
        return down ? .cameBack : .known
    }

    /// Drops site events older than `date`.
    public func forgetEvents(before date: Date) throws {
        try execute(sql: "DELETE FROM events WHERE at < ?", arguments: [date])
    }

    /// Marks down every up host not heard from since `cutoff`, noting the event at `date` (when it was judged);
    /// returns their ids.
    public func markHostsDown(silentSince cutoff: Date, at date: Date) throws -> [String] {
        let silent = try String.fetchAll(db.cachedStatement(sql: """
            SELECT id FROM hosts WHERE state = 'UP' AND (last_heartbeat IS NULL OR last_heartbeat < ?)
            """), arguments: [cutoff])
        for host in silent {
            try execute(sql: "UPDATE hosts SET state = 'DOWN' WHERE id = ?", arguments: [host])
            try appendEvent(SiteEvent(kind: .hostDown, host: host,
                                      message: "host \(host) missed its heartbeats"), at: date)
        }
        return silent
    }

    /// Each host's group, without what its VEEs reserve.
    public func hostGroups() throws -> [String: String] {
        var groups: [String: String] = [:]
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT id, host_group FROM hosts")) {
            groups[row["id"]] = row["host_group"]
        }
        return groups
    }

    /// Every host, with what its VEEs that are not destroyed reserve (`footprint`, when the caller has it already).
    public func hosts(_ footprint: SiteFootprint? = nil) throws -> [HostView] {
        let site = try footprint ?? self.footprint()
        return try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM hosts ORDER BY id")).map { row in
            let id: String = row["id"]
            let images = InventoryCoding.images(row["images"])
            return HostView(id: id, hypervisor: row["hypervisor"], domainType: row["domain_type"],
                            capacity: Resources(cpus: row["cpus"], memoryMiB: row["memory_mib"],
                                                diskGiB: row["disk_gib"]),
                            allocated: site.allocated(on: id),
                            state: HostState(rawValue: row["state"]) ?? .down,
                            lastHeartbeat: row["last_heartbeat"], images: images, group: row["host_group"])
        }
    }
}

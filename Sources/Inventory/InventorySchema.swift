import Foundation
import GRDB
import Synchronization
import VMI

/// Migrations only ever get appended: a released one is never edited.
enum InventorySchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: hosts, vees, events, requests, samples") { db in
            try db.execute(sql: """
                CREATE TABLE hosts (
                    id TEXT PRIMARY KEY,
                    hypervisor TEXT NOT NULL,
                    domain_type TEXT NOT NULL,
                    cpus INTEGER NOT NULL,
                    memory_mib INTEGER NOT NULL,
                    disk_gib INTEGER NOT NULL,
                    images TEXT NOT NULL,
                    state TEXT NOT NULL,
                    last_heartbeat DATETIME,
                    registered_at DATETIME NOT NULL
                );
                CREATE TABLE vees (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    spec TEXT NOT NULL,
                    host TEXT NOT NULL REFERENCES hosts(id),
                    desired TEXT NOT NULL,
                    observed TEXT NOT NULL,
                    generation INTEGER NOT NULL,
                    last_error TEXT,
                    created_at DATETIME NOT NULL,
                    updated_at DATETIME NOT NULL
                );
                -- A name is taken until its VEE is destroyed.
                CREATE UNIQUE INDEX vees_live_name ON vees(name) WHERE desired != 'DESTROYED';
                CREATE INDEX vees_host ON vees(host);
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    at DATETIME NOT NULL,
                    kind TEXT NOT NULL,
                    host TEXT,
                    vee TEXT,
                    state TEXT,
                    message TEXT NOT NULL
                );
                CREATE TABLE requests (
                    id TEXT PRIMARY KEY,
                    reply BLOB NOT NULL,
                    at DATETIME NOT NULL
                );
                CREATE TABLE samples (
                    vee TEXT NOT NULL,
                    source TEXT NOT NULL,
                    name TEXT NOT NULL,
                    value REAL NOT NULL,
                    at DATETIME NOT NULL,
                    PRIMARY KEY (vee, source, name)
                );
                """)
        }
        migrator.registerMigration("v2: host groups; VEE classes, services and components") { db in
            try db.execute(sql: """
                ALTER TABLE hosts ADD COLUMN host_group TEXT NOT NULL DEFAULT 'default';
                ALTER TABLE vees ADD COLUMN sla_class TEXT;
                ALTER TABLE vees ADD COLUMN service TEXT;
                ALTER TABLE vees ADD COLUMN component TEXT;
                CREATE INDEX vees_service ON vees(service, component);
                """)
        }
        migrator.registerMigration("v3: services, components, KPI history") { db in
            try db.execute(sql: """
                CREATE TABLE services (
                    name TEXT PRIMARY KEY,
                    manifest TEXT NOT NULL,
                    state TEXT NOT NULL,
                    error TEXT,
                    created_at DATETIME NOT NULL,
                    updated_at DATETIME NOT NULL
                );
                CREATE TABLE components (
                    service TEXT NOT NULL REFERENCES services(name) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    desired_replicas INTEGER NOT NULL,
                    last_action_at DATETIME,
                    PRIMARY KEY (service, name)
                );
                CREATE TABLE kpi_history (
                    vee TEXT NOT NULL,
                    name TEXT NOT NULL,
                    value REAL NOT NULL,
                    at DATETIME NOT NULL
                );
                CREATE INDEX kpi_history_lookup ON kpi_history(vee, name, at);
                """)
        }
        migrator.registerMigration("v4: component CPU sizes set by rules") { db in
            try db.execute(sql: "ALTER TABLE components ADD COLUMN cpus INTEGER")
        }
        migrator.registerMigration("v5: EC2 accounts, access keys, cloud resources, tags") { db in
            try db.execute(sql: """
                CREATE TABLE accounts (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    created_at DATETIME NOT NULL
                );
                CREATE TABLE access_keys (
                    access_key TEXT PRIMARY KEY,
                    account TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                    secret TEXT NOT NULL,
                    created_at DATETIME NOT NULL
                );
                -- Key pairs, security groups, addresses, volumes, images, instances, reservations: each a JSON body
                -- its module owns. A name (key pair, group) is unique per account and kind; a token (ClientToken)
                -- too.
                CREATE TABLE cloud_resources (
                    id TEXT PRIMARY KEY,
                    account TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    name TEXT,
                    token TEXT,
                    body TEXT NOT NULL,
                    created_at DATETIME NOT NULL
                );
                CREATE UNIQUE INDEX cloud_resources_name ON cloud_resources(account, kind, name) WHERE name IS NOT NULL;
                CREATE UNIQUE INDEX cloud_resources_token ON cloud_resources(account, kind, token)
                    WHERE token IS NOT NULL;
                CREATE INDEX cloud_resources_kind ON cloud_resources(kind, account);
                CREATE TABLE cloud_tags (
                    resource TEXT NOT NULL,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (resource, key)
                );
                """)
        }
        migrator.registerMigration("v6: VEEs by name; changes to VEE footprints, for the placement cache") { db in
            // Names of destroyed VEEs too are looked up (the live ones had a partial index). Every change to what a
            // live VEE takes on its host leaves the VEE's id in footprint_changes, whichever code made it;
            // `FootprintCache` re-reads those VEEs instead of every VEE. Triggers share the writing transaction,
            // so a rolled-back change leaves no trace here either.
            try db.execute(sql: """
                CREATE INDEX vees_name ON vees(name, created_at);
                CREATE TABLE footprint_changes (vee TEXT PRIMARY KEY) WITHOUT ROWID;
                CREATE TRIGGER footprint_insert AFTER INSERT ON vees BEGIN
                    INSERT OR IGNORE INTO footprint_changes (vee) VALUES (NEW.id);
                END;
                CREATE TRIGGER footprint_delete AFTER DELETE ON vees BEGIN
                    INSERT OR IGNORE INTO footprint_changes (vee) VALUES (OLD.id);
                END;
                CREATE TRIGGER footprint_update AFTER UPDATE OF host, spec, desired, sla_class, service, component
                ON vees WHEN OLD.host IS NOT NEW.host OR OLD.spec IS NOT NEW.spec
                    OR (OLD.desired = 'DESTROYED') IS NOT (NEW.desired = 'DESTROYED')
                    OR OLD.sla_class IS NOT NEW.sla_class OR OLD.service IS NOT NEW.service
                    OR OLD.component IS NOT NEW.component
                BEGIN
                    INSERT OR IGNORE INTO footprint_changes (vee) VALUES (NEW.id);
                END;
                """)
        }
        migrator.registerMigration("v7: reboots asked for each VEE") { db in
            try db.execute(sql: "ALTER TABLE vees ADD COLUMN reboots INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v8: why a component has fewer replicas than desired") { db in
            try db.execute(sql: "ALTER TABLE components ADD COLUMN shortfall TEXT")
        }
        migrator.registerMigration("v9: networks, interfaces, hosts' underlay addresses") { db in
            // A VEE's interfaces are also kept as JSON on its row (what its commands carry); the interfaces table
            // holds what must be unique in the site: MACs, and addresses within a network. Rows go when the host
            // reports the VEE destroyed, not before, so no address is reused while its old holder may still run.
            try db.execute(sql: """
                ALTER TABLE hosts ADD COLUMN underlay TEXT;
                ALTER TABLE hosts ADD COLUMN network_generation INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE vees ADD COLUMN interfaces TEXT;
                CREATE TABLE networks (
                    vni INTEGER PRIMARY KEY,
                    scope TEXT NOT NULL,
                    name TEXT NOT NULL,
                    subnet TEXT NOT NULL,
                    bytes_per_second REAL,
                    created_at DATETIME NOT NULL,
                    UNIQUE (scope, name)
                );
                CREATE TABLE interfaces (
                    vee TEXT NOT NULL,
                    vni INTEGER NOT NULL REFERENCES networks(vni),
                    mac TEXT NOT NULL UNIQUE,
                    address TEXT NOT NULL,
                    PRIMARY KEY (vee, vni),
                    UNIQUE (vni, address)
                );
                CREATE INDEX interfaces_vni ON interfaces(vni);
                -- Networks whose members (or their hosts) changed in the writing transaction: the coordinator
                -- tells those networks' hosts their new peers once it commits (as footprint_changes, by trigger).
                CREATE TABLE network_changes (vni INTEGER PRIMARY KEY) WITHOUT ROWID;
                CREATE TRIGGER network_member_insert AFTER INSERT ON interfaces BEGIN
                    INSERT OR IGNORE INTO network_changes (vni) VALUES (NEW.vni);
                END;
                CREATE TRIGGER network_member_delete AFTER DELETE ON interfaces BEGIN
                    INSERT OR IGNORE INTO network_changes (vni) VALUES (OLD.vni);
                END;
                CREATE TRIGGER network_member_move AFTER UPDATE OF host ON vees WHEN OLD.host IS NOT NEW.host BEGIN
                    INSERT OR IGNORE INTO network_changes (vni) SELECT vni FROM interfaces WHERE vee = NEW.id;
                END;
                CREATE TRIGGER network_underlay AFTER UPDATE OF underlay ON hosts
                WHEN OLD.underlay IS NOT NEW.underlay BEGIN
                    INSERT OR IGNORE INTO network_changes (vni)
                        SELECT i.vni FROM interfaces i JOIN vees v ON v.id = i.vee WHERE v.host = NEW.id;
                END;
                """)
        }
        migrator.registerMigration("v10: each EC2 instance's security groups as its host enforces them") { db in
            // Written by the EC2 model when what a VEE may send or receive changes. A VEE's firewall is told to its
            // host; its membership of a group (`firewall_members`) to the hosts of every VEE whose rules name that
            // group (`firewall_refs`), so a launch costs its own rows, not a rewrite of every member's rules.
            try db.execute(sql: """
                CREATE TABLE firewalls (vee TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
                CREATE TABLE firewall_members (grp TEXT NOT NULL, vee TEXT NOT NULL, address TEXT NOT NULL,
                                               PRIMARY KEY (grp, vee)) WITHOUT ROWID;
                CREATE TABLE firewall_refs (grp TEXT NOT NULL, vee TEXT NOT NULL, PRIMARY KEY (grp, vee)) WITHOUT ROWID;
                CREATE INDEX firewall_members_vee ON firewall_members(vee);
                CREATE INDEX firewall_refs_vee ON firewall_refs(vee);
                CREATE TRIGGER firewall_insert AFTER INSERT ON firewalls BEGIN
                    INSERT OR IGNORE INTO network_changes (vni) SELECT vni FROM interfaces WHERE vee = NEW.vee;
                END;
                CREATE TRIGGER firewall_update AFTER UPDATE ON firewalls BEGIN
                    INSERT OR IGNORE INTO network_changes (vni) SELECT vni FROM interfaces WHERE vee = NEW.vee;
                END;
                CREATE TRIGGER firewall_delete AFTER DELETE ON firewalls BEGIN
                    INSERT OR IGNORE INTO network_changes (vni) SELECT vni FROM interfaces WHERE vee = OLD.vee;
                END;
                CREATE TRIGGER firewall_member_insert AFTER INSERT ON firewall_members BEGIN
                    INSERT OR IGNORE INTO network_changes (vni)
                        SELECT i.vni FROM firewall_refs r JOIN interfaces i ON i.vee = r.vee WHERE r.grp = NEW.grp;
                END;
                CREATE TRIGGER firewall_member_delete AFTER DELETE ON firewall_members BEGIN
                    INSERT OR IGNORE INTO network_changes (vni)
                        SELECT i.vni FROM firewall_refs r JOIN interfaces i ON i.vee = r.vee WHERE r.grp = OLD.grp;
                END;
                """)
        }
        return migrator
    }
}

/// JSON columns (a VEE's spec, a host's images); one coder each, not one per row.
enum InventoryCoding {
    static let encoder = JSONEncoder()
    static let decoder = JSONDecoder()

    /// Decoded specs by their JSON text: VEE rows are read often, and decoding JSON costs far more than a lookup.
    private static let specs = DecodedColumn<VEESpec>(limit: 100_000)
    /// A host's image list, read for every host at every placement.
    private static let hostImages = DecodedColumn<[String]>(limit: 10_000)
    private static let veeInterfaces = DecodedColumn<[VEEInterface]>(limit: 100_000)

    static func spec(_ text: String) throws -> VEESpec { try specs.value(text) }

    static func images(_ text: String) -> [String] { (try? hostImages.value(text)) ?? [] }

    static func interfaces(_ text: String?) -> [VEEInterface]? { text.flatMap { try? veeInterfaces.value($0) } }
}

/// Values of one JSON column by their text. A text always decodes to the same value, so nothing here goes stale;
/// past `limit` texts the cache starts again.
final class DecodedColumn<Value: Decodable & Sendable>: Sendable {
    private let limit: Int
    private let cache = Mutex<[String: Value]>([:])

    init(limit: Int) { self.limit = limit }

    func value(_ text: String) throws -> Value {
        if let value = cache.withLock({ $0[text] }) { return value }
        let value = try InventoryCoding.decoder.decode(Value.self, from: Data(text.utf8))
        cache.withLock { cache in
            if cache.count >= limit { cache.removeAll(keepingCapacity: true) }
            cache[text] = value
        }
        return value
    }
}

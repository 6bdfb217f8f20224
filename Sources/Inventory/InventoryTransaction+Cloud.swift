import Foundation
import GRDB
import VMI

/// A cloud resource as stored: the owning module gives its body meaning (JSON).
public struct CloudResource: Sendable, Equatable {
    public var id: String
    public var account: String
    public var kind: String
    public var name: String?
    public var token: String?
    public var body: String
    public var createdAt: Date

    public init(id: String, account: String, kind: String, name: String? = nil, token: String? = nil, body: String,
                createdAt: Date) {
        self.id = id
        self.account = account
        self.kind = kind
        self.name = name
        self.token = token
        self.body = body
        self.createdAt = createdAt
    }

    init(row: Row) {
        self.init(id: row["id"], account: row["account"], kind: row["kind"], name: row["name"], token: row["token"],
                  body: row["body"], createdAt: row["created_at"])
    }
}

/// Why a resource could not be inserted: its name or token is already used by another of the account's resources.
public struct CloudResourceConflict: Error, Equatable {
    public var field: String
    public init(field: String) { self.field = field }
}

extension InventoryTransaction {
    // MARK: Accounts

    /// Records an account with its access key. Throws `CloudResourceConflict` naming `id` or `accessKey` when taken.
    public func createAccount(_ account: AccountView, secret: String) throws {
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM accounts WHERE id = ?", arguments: [account.id]) ?? false {
            throw CloudResourceConflict(field: "id")
        }
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM access_keys WHERE access_key = ?",
                             arguments: [account.accessKey]) ?? false {
            throw CloudResourceConflict(field: "accessKey")
        }
        try execute(sql: "INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)",
                    arguments: [account.id, account.name, account.createdAt])
        try execute(sql: "INSERT INTO access_keys (access_key, account, secret, created_at) VALUES (?, ?, ?, ?)",
                    arguments: [account.accessKey, account.id, secret, account.createdAt])
    }

    /// The account an access key belongs to, with the key's secret.
    public func credentials(accessKey: String) throws -> (account: String, secret: String)? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT account, secret FROM access_keys WHERE access_key = ?"),
                         arguments: [accessKey]).map { ($0["account"], $0["secret"]) }
    }

    /// Every account with its first access key (no secrets).
    public func accounts() throws -> [AccountView] {
        try Row.fetchAll(db, sql: """
            SELECT accounts.*, MIN(access_keys.access_key) AS access_key FROM accounts
            LEFT JOIN access_keys ON access_keys.account = accounts.id GROUP BY accounts.id ORDER BY accounts.created_at
            """).map { AccountView(id: $0["id"], name: $0["name"], accessKey: $0["access_key"] ?? "",
                                   createdAt: $0["created_at"]) }
    }

    public func accountExists(_ id: String) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM accounts WHERE id = ?"), arguments: [id]) ?? false
    }

    // MARK: Resources

    /// Inserts a resource; throws `CloudResourceConflict` ("name" or "token") when the account already has one of
    /// that kind with the same name or token.
    public func insertResource(_ resource: CloudResource) throws {
        if let name = resource.name, try self.resource(kind: resource.kind, account: resource.account, name: name) != nil {
            throw CloudResourceConflict(field: "name")
        }
        if let token = resource.token,
           try self.resource(kind: resource.kind, account: resource.account, token: token) != nil {
            throw CloudResourceConflict(field: "token")
        }
        try execute(sql: """
            INSERT INTO cloud_resources (id, account, kind, name, token, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [resource.id, resource.account, resource.kind, resource.name, resource.token,
                             resource.body, resource.createdAt])
    }

    public func updateResource(_ id: String, body: String) throws {
        try execute(sql: "UPDATE cloud_resources SET body = ? WHERE id = ?", arguments: [body, id])
    }

    /// Deletes a resource and its tags.
    public func deleteResource(_ id: String) throws {
        try execute(sql: "DELETE FROM cloud_resources WHERE id = ?", arguments: [id])
        try execute(sql: "DELETE FROM cloud_tags WHERE resource = ?", arguments: [id])
    }

    public func resource(_ id: String) throws -> CloudResource? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM cloud_resources WHERE id = ?"), arguments: [id])
            .map(CloudResource.init(row:))
    }

    public func resource(kind: String, account: String, name: String) throws -> CloudResource? {
        try Row.fetchOne(db.cachedStatement(sql: """
            SELECT * FROM cloud_resources WHERE kind = ? AND account = ? AND name = ?
            """), arguments: [kind, account, name]).map(CloudResource.init(row:))
    }

    public func resource(kind: String, account: String, token: String) throws -> CloudResource? {
        try Row.fetchOne(db.cachedStatement(sql: """
            SELECT * FROM cloud_resources WHERE kind = ? AND account = ? AND token = ?
            """), arguments: [kind, account, token]).map(CloudResource.init(row:))
    }

    /// Resources of a kind, oldest first: the account's, or everyone's when `account` is nil.
    public func resources(kind: String, account: String?) throws -> [CloudResource] {
        try Row.fetchAll(db.cachedStatement(sql: """
            SELECT * FROM cloud_resources WHERE kind = ? AND (? IS NULL OR account = ?) ORDER BY created_at, id
            """), arguments: [kind, account, account]).map(CloudResource.init(row:))
    }

    // MARK: Tags

    /// Sets tags on a resource, replacing values of keys it already has.
    public func setTags(_ resource: String, _ tags: [(key: String, value: String)]) throws {
        for tag in tags {
            try execute(sql: """
                INSERT INTO cloud_tags (resource, key, value) VALUES (?, ?, ?)
                ON CONFLICT (resource, key) DO UPDATE SET value = excluded.value
                """, arguments: [resource, tag.key, tag.value])
        }
    }

    /// Removes a tag by key, or only when its value is `value`.
    public func deleteTag(_ resource: String, key: String, value: String?) throws {
        try execute(sql: "DELETE FROM cloud_tags WHERE resource = ? AND key = ? AND (? IS NULL OR value = ?)",
                    arguments: [resource, key, value, value])
    }

    /// Tags by resource id, each resource's in key order.
    public func tags(account: String) throws -> [String: [(key: String, value: String)]] {
        var tags: [String: [(key: String, value: String)]] = [:]
        for row in try Row.fetchAll(db.cachedStatement(sql: """
            SELECT cloud_tags.* FROM cloud_tags JOIN cloud_resources ON cloud_resources.id = cloud_tags.resource
            WHERE cloud_resources.account = ? ORDER BY cloud_tags.resource, cloud_tags.key
            """), arguments: [account]) {
            tags[row["resource"], default: []].append((row["key"], row["value"]))
        }
        return tags
    }

    // MARK: VEEs by id

    /// The VEEs with these ids (any state), in no particular order.
    public func vees(ids: [String]) throws -> [VEEView] {
        guard !ids.isEmpty else { return [] }
        var found: [VEEView] = []
        // SQLite's default limit on bound variables is 32766; stay well below it.
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = Array(ids[start..<min(start + 500, ids.count)])
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
            found += try fetchVEEs(sql: "SELECT * FROM vees WHERE id IN (\(marks))",
                                   arguments: StatementArguments(chunk)).map(\.view)
        }
        return found
    }
}

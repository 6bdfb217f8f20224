import EC2
import Foundation
import Inventory
import Synchronization

/// A cloud resource's body, kept as JSON in the inventory under its kind.
protocol StoredResource: Codable, Sendable {
    static var kind: String { get }
}

enum ResourceCoding {
    /// Decoded bodies by kind and JSON text: a Describe over a thousand instances would otherwise decode a thousand
    /// JSON documents per call. A body's text changes whenever the body does, so the cache is never stale.
    private static let bodies = Mutex<[String: any Sendable]>([:])

    static func decode<Body: StoredResource>(_: Body.Type, _ text: String) throws -> Body {
        let key = Body.kind + "\u{0}" + text
        if let body = bodies.withLock({ $0[key] }) as? Body { return body }
        let body = try decoder.decode(Body.self, from: Data(text.utf8))
        bodies.withLock { cache in
            if cache.count >= 100_000 { cache.removeAll(keepingCapacity: true) }
            cache[key] = body
        }
        return body
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }()
}

/// A stored resource decoded: its row and its typed body.
struct Owned<Body: StoredResource> {
    var record: CloudResource
    var body: Body
    var id: String { record.id }
}

extension CloudCall {
    func encode<Body: StoredResource>(_ body: Body) throws -> String {
        String(decoding: try ResourceCoding.encoder.encode(body), as: UTF8.self)
    }

    /// Inserts a resource owned by the caller. A taken name or token is `duplicate`.
    func insert<Body: StoredResource>(_ body: Body, id: String, name: String? = nil, token: String? = nil,
                                      duplicate: EC2Error) throws {
        do {
            try tx.insertResource(CloudResource(id: id, account: account, kind: Body.kind, name: name, token: token,
                                                body: try encode(body), createdAt: now))
        } catch is CloudResourceConflict {
            throw duplicate
        }
    }

    func update<Body: StoredResource>(_ owned: Owned<Body>) throws {
        try tx.updateResource(owned.id, body: try encode(owned.body))
    }

    func decode<Body: StoredResource>(_ record: CloudResource, as _: Body.Type = Body.self) throws -> Owned<Body> {
        Owned(record: record, body: try ResourceCoding.decode(Body.self, record.body))
    }

    /// The caller's resources of a kind, oldest first.
    func all<Body: StoredResource>(_: Body.Type) throws -> [Owned<Body>] {
        try tx.resources(kind: Body.kind, account: account).map { try decode($0) }
    }

    /// The caller's resource with this id; another account's is as missing as one that never existed.
    func owned<Body: StoredResource>(_ id: String, _: Body.Type, notFound: EC2Error) throws -> Owned<Body> {
        guard let record = try tx.resource(id), record.kind == Body.kind, record.account == account else {
            throw notFound
        }
        return try decode(record)
    }

    func named<Body: StoredResource>(_ name: String, _: Body.Type) throws -> Owned<Body>? {
        try tx.resource(kind: Body.kind, account: account, name: name).map { try decode($0) }
    }

    /// The caller's resources named by `ids` (all of them, or `notFound` for the first missing), or every one when
    /// `ids` is empty.
    func selected<Body: StoredResource>(_ ids: [String], _: Body.Type,
                                        notFound: (String) -> EC2Error) throws -> [Owned<Body>] {
        guard !ids.isEmpty else { return try all(Body.self) }
        return try ids.map { try owned($0, Body.self, notFound: notFound($0)) }
    }
}

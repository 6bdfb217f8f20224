import EC2
import Foundation
import Inventory
import VMI

/// Runs EC2 Query API calls against the inventory: authenticates the caller's signature with the secret the
/// inventory holds, dispatches the action, and renders the XML answer. Each call runs in its own savepoint, so an
/// error (or DryRun) leaves nothing behind; what it asks of hosts comes back as `CloudEffects`.
public struct CloudEngine: Sendable {
    public var site: CloudSite

    public init(site: CloudSite) { self.site = site }

    /// The rendered answer, what to do once committed, and whether the call changed anything (worth recording
    /// against re-delivery).
    public struct Result: Sendable {
        public var reply: EC2Reply
        public var effects: CloudEffects
        public var changed: Bool
    }

    public func handle(_ request: EC2Request, _ tx: InventoryTransaction, _ now: Date,
                       _ operations: any CloudSiteOperations) -> Result {
        let requestId = request.requestId
        do {
            let account = try authenticate(request.signature, tx)
            guard !request.action.isEmpty else { throw EC2Error.missingParameter("Action") }
            guard let action = CloudCall.actions[request.action] else {
                throw EC2Error("InvalidAction", "The action \(request.action) is not valid for this web service.")
            }
            let call = CloudCall(account: account, form: QueryForm(values: request.parameters), tx: tx, now: now,
                                 site: site, operations: operations)
            let body = try tx.isolated { () throws -> [EC2XML.Node] in
                let body = try call.run(action)
                // DryRun: everything was checked and done; throwing undoes it.
                if call.form.bool("DryRun") {
                    throw EC2Error("DryRunOperation", "Request would have succeeded, but DryRun flag is set.",
                                   status: 412)
                }
                return body
            }
            return Result(reply: EC2Reply(status: 200, xml: EC2XML.response(action: request.action,
                                                                             requestId: requestId, body)),
                          effects: call.effects, changed: !action.readOnly)
        } catch let error as EC2Error {
            return Result(reply: EC2Reply(status: error.status, xml: EC2XML.error(error, requestId: requestId)),
                          effects: CloudEffects(), changed: false)
        } catch {
            let failure = EC2Error("InternalError", "An internal error has occurred: \(error)", status: 500)
            return Result(reply: EC2Reply(status: 500, xml: EC2XML.error(failure, requestId: requestId)),
                          effects: CloudEffects(), changed: false)
        }
    }

    /// Whether `action` only reads, so that a read transaction (a snapshot) can answer it.
    public static func readsOnly(_ action: String) -> Bool { CloudCall.actions[action]?.readOnly ?? false }

    /// The account whose key signed the call. The region must be this site's.
    func authenticate(_ signature: EC2Signature, _ tx: InventoryTransaction) throws -> String {
        guard let credentials = try tx.credentials(accessKey: signature.accessKey) else {
            throw EC2Signature.unknownKey
        }
        try signature.check(secret: credentials.secret)
        guard signature.region == site.region else {
            throw EC2Error("SignatureDoesNotMatch", "Credential should be scoped to a valid region: this site is "
                + "'\(site.region)', not '\(signature.region)'", status: 403)
        }
        return credentials.account
    }
}

/// One authenticated call in progress: the caller's account, its parameters, and the transaction it runs in.
final class CloudCall {
    let account: String
    let form: QueryForm
    let tx: InventoryTransaction
    let now: Date
    let site: CloudSite
    let operations: any CloudSiteOperations
    var effects = CloudEffects()
    private var tagCache: [String: [(key: String, value: String)]]?

    init(account: String, form: QueryForm, tx: InventoryTransaction, now: Date, site: CloudSite,
         operations: any CloudSiteOperations) {
        self.account = account
        self.form = form
        self.tx = tx
        self.now = now
        self.site = site
        self.operations = operations
    }

    /// An action: what it renders, and whether it only reads.
    struct Action: Sendable {
        var readOnly: Bool
        var run: @Sendable (CloudCall) throws -> [EC2XML.Node]
    }

    func run(_ action: Action) throws -> [EC2XML.Node] {
        do {
            return try action.run(self)
        } catch let error as VMIError {
            throw EC2Error(vmi: error)
        }
    }

    /// Every action this site answers.
    static let actions: [String: Action] = {
        var all: [String: Action] = [:]
        for table in [instanceActions, imageActions, keyPairActions, securityGroupActions, addressActions,
                      volumeActions, tagActions, siteActions, serviceActions, statusActions, attributeActions, vpcActions,
                      consoleActions] {
            all.merge(table) { first, _ in first }
        }
        return all
    }()

    /// The account's tags by resource id (read once per call).
    var tags: [String: [(key: String, value: String)]] {
        get throws {
            if let tagCache { return tagCache }
            let loaded = try tx.tags(account: account)
            tagCache = loaded
            return loaded
        }
    }

    /// `tagSet` of a resource.
    func tagSet(_ id: String) throws -> EC2XML.Node {
        .items("tagSet", try (tags[id] ?? []).map { [.text("key", $0.key), .text("value", $0.value)] })
    }

    /// Applies `TagSpecification.N` entries for `resourceType` to a new resource.
    func applyTagSpecifications(_ resourceType: String, to ids: [String]) throws {
        for index in form.indices(of: "TagSpecification") {
            let prefix = "TagSpecification.\(index)"
            guard let type = form["\(prefix).ResourceType"] else { throw EC2Error.missingParameter("\(prefix).ResourceType") }
            guard type == resourceType else { continue }
            let tags = form.tags("\(prefix).Tag")
            try CloudCall.validate(tags)
            for id in ids { try tx.setTags(id, tags) }
        }
    }

    static func validate(_ tags: [(key: String, value: String)]) throws {
        for tag in tags {
            guard !tag.key.isEmpty, tag.key.count <= 128, !tag.key.lowercased().hasPrefix("aws:") else {
                throw EC2Error("InvalidParameterValue", "Tag key '\(tag.key)' must be 1-128 characters and not start "
                    + "with 'aws:'")
            }
            guard tag.value.count <= 256 else {
                throw EC2Error("InvalidParameterValue", "Tag value for key '\(tag.key)' is longer than 256 characters")
            }
        }
    }

    /// `Name.N` ids, each checked to have the right prefix.
    func ids(_ name: String, prefix: String, notFound: String) throws -> [String] {
        let ids = form.list(name)
        for id in ids { try checkShape(id, prefix: prefix, code: notFound) }
        return ids
    }

    /// A required id, checked for its shape: as on EC2, a missing or malformed parameter is refused before anything
    /// is looked up.
    func requiredId(_ name: String, prefix: String, code: String) throws -> String {
        let id = try form.required(name)
        try checkShape(id, prefix: prefix, code: code)
        return id
    }

    /// An optional id, checked for its shape when given.
    func optionalId(_ name: String, prefix: String, code: String) throws -> String? {
        guard let id = form[name] else { return nil }
        try checkShape(id, prefix: prefix, code: code)
        return id
    }

    /// `<code>.Malformed` unless `id` is `<prefix>-` and 8 to 17 hex digits.
    func checkShape(_ id: String, prefix: String, code: String) throws {
        guard ResourceID.looksValid(id, prefix: prefix) else {
            throw EC2Error("\(code).Malformed", "Invalid id: \"\(id)\" (expecting \"\(prefix)-...\")")
        }
    }
}

extension EC2Error {
    /// The EC2 code for a VMI refusal from the site.
    init(vmi error: VMIError) {
        switch error.code {
        case .unknownVEE: self.init("InvalidInstanceID.NotFound", error.message)
        case .illegalTransition: self.init("IncorrectInstanceState", error.message)
        case .insufficientCapacity: self.init("InsufficientInstanceCapacity", error.message, status: 500)
        case .duplicateName: self.init("InvalidParameterValue", error.message)
        case .invalidParameter:
            self.init("InvalidParameterValue", error.field.map { "\($0): \(error.message)" } ?? error.message)
        default: self.init("InternalError", error.message, status: 500)
        }
    }

    static func notFound(_ code: String, _ id: String, _ what: String) -> EC2Error {
        EC2Error(code, "The \(what) '\(id)' does not exist")
    }
}

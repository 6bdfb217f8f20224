import EC2
import Foundation
import Inventory
import Testing
import VMI
@testable import Cloud

@Suite struct CloudTests {
    @Test func onlyCallsThatNeverWriteMayRunInAReadTransaction() {
        for action in ["DescribeInstances", "DescribeImages", "DescribeKeyPairs", "DescribeTags", "DescribeRegions"] {
            #expect(CloudEngine.readsOnly(action), "\(action)")
        }
        // DescribeSecurityGroups creates the account's default group on first sight.
        for action in ["RunInstances", "DescribeSecurityGroups", "CreateTags", "NoSuchAction", ""] {
            #expect(!CloudEngine.readsOnly(action), "\(action)")
        }
    }

    @Test func filterValuesMatchWithEC2Wildcards() {
        #expect(Filters.glob("web-*", "web-1"))
        #expect(Filters.glob("*", ""))
        #expect(Filters.glob("w?b", "web"))
        #expect(!Filters.glob("w?b", "weeb"))
        #expect(Filters.glob("a\\*", "a*"))
        #expect(!Filters.glob("a\\*", "ab"))
        #expect(!Filters.glob("web", "web-1"))
    }

    @Test func filtersAreAndedAcrossNamesAndOredAcrossValues() throws {
        let form = QueryForm("Filter.1.Name=state&Filter.1.Value.1=running&Filter.1.Value.2=pending"
            + "&Filter.2.Name=tag%3Arole&Filter.2.Value.1=web")
        let filters = Filters(form)
        let values = { (state: String) in { (name: String) -> [String]? in name == "state" ? [state] : nil } }
        #expect(try filters.match(tags: [("role", "web")], values("pending")))
        #expect(try !filters.match(tags: [("role", "web")], values("stopped")))
        #expect(try !filters.match(tags: [("role", "db")], values("running")))
        #expect(throws: EC2Error.self) { try Filters(QueryForm("Filter.1.Name=colour&Filter.1.Value.1=red")).check(["state"]) }
    }

    @Test func zonesInEC2sShapeGetEC2sKindOfId() {
        #expect(CloudCall.zoneId("us-east-1a", region: "us-east-1") == "use1-az1")
        #expect(CloudCall.zoneId("eu-west-2c", region: "eu-west-2") == "euw2-az3")
        #expect(CloudCall.zoneId("site1b", region: "site1") == "site1-az2")
        #expect(CloudCall.zoneId("default", region: "site1") == "site1-default")
        #expect(CloudCall.zoneId("site1-rack", region: "site1") == "site1-site1-rack")
    }

    @Test func pagesFollowTheirKeySoThatAdditionsNeitherRepeatNorSkip() throws {
        let first = try Page(QueryForm("MaxResults=5"), idsGiven: false, idName: "InstanceId")
        var items = (1...7).map { "k\($0)" }
        let (page1, next1) = first.slice(items) { $0 }
        #expect(page1 == ["k1", "k2", "k3", "k4", "k5"])
        let token = try #require(first.token(next1).first)
        guard case .text("nextToken", let value) = token else { Issue.record("\(token)"); return }
        items.insert("k0", at: 0)  // created "earlier" in key order: already behind the reader
        items.append("k8")
        let second = try Page(QueryForm("MaxResults=5&NextToken=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"),
                              idsGiven: false, idName: "InstanceId")
        let (page2, next2) = second.slice(items) { $0 }
        #expect(page2 == ["k6", "k7", "k8"] && next2 == nil)
        #expect(throws: EC2Error.self) { try Page(QueryForm("MaxResults=4"), idsGiven: false, idName: "InstanceId") }
        #expect(throws: EC2Error.self) { try Page(QueryForm("MaxResults=5"), idsGiven: true, idName: "InstanceId") }
        #expect(throws: EC2Error.self) { try Page(QueryForm("NextToken=bogus"), idsGiven: false, idName: "InstanceId") }
        let whole = try Page(QueryForm(""), idsGiven: false, idName: "InstanceId")
        #expect(whole.slice(["b", "a"]) { $0 } == (["b", "a"], nil))
    }

    static func vee(_ desired: VEEState, _ observed: VEEState) -> VEEView {
        VEEView(id: "v", spec: VEESpec(name: "i-0", image: "tiny"), host: "h", desired: desired, observed: observed,
                updatedAt: Date())
    }

    @Test func instanceStatesFollowTheVMIStates() {
        let table: [(VEEState, VEEState, String, Int)] = [
            (.active, .pending, "pending", 0), (.active, .booting, "pending", 0), (.active, .active, "running", 16),
            (.destroyed, .active, "shutting-down", 32), (.destroyed, .destroyed, "terminated", 48),
            (.defined, .active, "stopping", 64), (.defined, .shuttingDown, "stopping", 64),
            (.defined, .defined, "stopped", 80), (.paused, .active, "stopping", 64), (.paused, .paused, "stopped", 80),
            (.suspended, .suspended, "stopped", 80),
        ]
        for (desired, observed, name, code) in table {
            let state = InstanceState(Self.vee(desired, observed))
            #expect(state.name == name && state.code == code, "\(desired)/\(observed)")
        }
        #expect(InstanceState(Self.vee(.paused, .paused)).reason?.code == "Client.UserInitiatedPause")
        #expect(InstanceState(Self.vee(.suspended, .suspended)).reason?.code == "Client.UserInitiatedSuspend")
        #expect(InstanceState(Self.vee(.active, .failed)).reason?.code == "Server.InternalError")
    }

    @Test func resourceIdsAreEC2Shaped() {
        let id = ResourceID.make("i")
        #expect(id.count == 19 && ResourceID.looksValid(id, prefix: "i"))
        #expect(!ResourceID.looksValid("web1", prefix: "i"))
        #expect(!ResourceID.looksValid("i-xyz", prefix: "i"))
        let account = ResourceID.account()
        #expect(account.count == 12 && account.allSatisfy(\.isNumber) && account.first != "0")
        let key = ResourceID.accessKey()
        #expect(key.id.hasPrefix("AKIA") && key.id.count == 20 && key.secret.count == 40)
    }

    @Test func accountsAreCreatedOrImportedAndRefusedByField() async throws {
        let inventory = try Inventory(path: NSTemporaryDirectory() + "veem-cloud-\(UUID().uuidString).sqlite")
        let now = Date()
        let created = try await inventory.write { try Accounts.create(CreateAccount(name: "alice"), $0, now) }
        #expect(created.secret?.count == 40)
        let imported = try await inventory.write {
            try Accounts.create(CreateAccount(name: "bob", id: "123456789012", accessKey: "AKIAIMPORTED00000001",
                                              secret: "s3cr3t-s3cr3t-s3cr3t"), $0, now)
        }
        #expect(imported.id == "123456789012")
        let credentials = try await inventory.read { try $0.credentials(accessKey: "AKIAIMPORTED00000001") }
        #expect(credentials?.account == "123456789012" && credentials?.secret == "s3cr3t-s3cr3t-s3cr3t")
        let refusals: [(CreateAccount, String)] = [
            (CreateAccount(name: ""), "name"),
            (CreateAccount(name: "x", id: "12345"), "id"),
            (CreateAccount(name: "x", accessKey: "AKIAIMPORTED00000002"), "secret"),
            (CreateAccount(name: "x", accessKey: "short", secret: "s3cr3t-s3cr3t-s3cr3t"), "accessKey"),
            (CreateAccount(name: "x", id: "123456789012"), "id"),
            (CreateAccount(name: "x", accessKey: "AKIAIMPORTED00000001", secret: "s3cr3t-s3cr3t-s3cr3t"), "accessKey"),
        ]
        for (request, field) in refusals {
            await #expect(throws: VMIError.self, "\(field)") {
                try await inventory.write { try Accounts.create(request, $0, now) }
            }
            do {
                _ = try await inventory.write { try Accounts.create(request, $0, now) }
            } catch let error as VMIError {
                #expect(error.field == field)
            }
        }
        #expect(Set(try await inventory.read { try $0.accounts() }.map(\.name)) == ["alice", "bob"])
    }

    @Test func resourceNamesAndTokensAreUniquePerAccountAndKind() async throws {
        let inventory = try Inventory(path: NSTemporaryDirectory() + "veem-cloud-\(UUID().uuidString).sqlite")
        let now = Date()
        @Sendable func resource(_ id: String, _ account: String, name: String? = nil, token: String? = nil)
            -> CloudResource {
            CloudResource(id: id, account: account, kind: "key-pair", name: name, token: token, body: "{}",
                          createdAt: now)
        }
        try await inventory.write { tx in
            try tx.insertResource(resource("key-1", "a", name: "k"))
            try tx.insertResource(resource("key-2", "b", name: "k"))
            #expect(throws: CloudResourceConflict(field: "name")) {
                try tx.insertResource(resource("key-3", "a", name: "k"))
            }
            try tx.insertResource(resource("key-4", "a", token: "t"))
            #expect(throws: CloudResourceConflict(field: "token")) {
                try tx.insertResource(resource("key-5", "a", token: "t"))
            }
            try tx.setTags("key-1", [("env", "test"), ("role", "web")])
            try tx.setTags("key-1", [("env", "prod")])
            try tx.deleteTag("key-1", key: "role", value: "other")
            #expect(try tx.tags(account: "a")["key-1"]?.map { "\($0.key)=\($0.value)" } == ["env=prod", "role=web"])
            try tx.deleteResource("key-1")
            #expect(try tx.tags(account: "a")["key-1"] == nil)
            #expect(try tx.resources(kind: "key-pair", account: "a").map(\.id) == ["key-4"])
        }
    }
}

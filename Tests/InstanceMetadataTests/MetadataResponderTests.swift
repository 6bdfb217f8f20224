import Crypto
import Foundation
@testable import InstanceMetadata
import Testing
import VMI

@Suite struct MetadataResponderTests {
    let responder = MetadataResponder(tokens: MetadataTokens(key: SymmetricKey(size: .bits256)))
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let web = MetadataGuest(
        vee: "vee-web", name: "shop-web-1", zone: "zone-a",
        interfaces: [VEEInterface(network: "RED", vni: 1000, mac: "52:54:00:00:00:0a", address: "10.10.0.10",
                                  subnet: "10.10.0.0/24")],
        context: GuestContext(userData: Data("#!/bin/sh\necho hi\n".utf8).base64EncodedString(), keyName: "ops",
                              publicKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== ops@site"]))
    var db: MetadataGuest {
        MetadataGuest(vee: "vee-db", name: "shop-db-1", zone: "zone-a",
                      interfaces: [VEEInterface(network: "RED", vni: 1000, mac: "52:54:00:00:00:0b",
                                                address: "10.10.0.11", subnet: "10.10.0.0/24")], context: nil)
    }

    func get(_ path: String, _ guest: MetadataGuest?, headers: [String: String] = [:],
             address: String? = nil) -> MetadataResponse {
        let address = address ?? guest?.interfaces.first?.address ?? "10.10.0.10"
        guard case .respond(let response) = responder.respond(
            to: MetadataRequest(method: "GET", path: path, headers: headers), from: guest, vni: 1000,
            address: address, now: now) else { Issue.record("not a response"); return MetadataResponse(status: 0) }
        return response
    }

    func text(_ response: MetadataResponse) -> String { String(decoding: response.body, as: UTF8.self) }

    func token(for guest: MetadataGuest, ttl: String = "60", headers: [String: String] = [:]) -> MetadataResponse {
        var all = headers
        all["X-aws-ec2-metadata-token-ttl-seconds"] = ttl
        guard case .respond(let response) = responder.respond(
            to: MetadataRequest(method: "PUT", path: "/latest/api/token", headers: all), from: guest, vni: 1000,
            address: guest.interfaces[0].address, now: now) else { return MetadataResponse(status: 0) }
        return response
    }

    @Test func aGuestReadsItsOwnMetadata() {
        #expect(text(get("/latest/meta-data/instance-id", web)) == "shop-web-1")
        #expect(text(get("/latest/meta-data/local-ipv4", web)) == "10.10.0.10")
        #expect(text(get("/latest/meta-data/mac", web)) == "52:54:00:00:00:0a")
        #expect(text(get("/latest/meta-data/placement/availability-zone", web)) == "zone-a")
        #expect(text(get("/latest/meta-data/public-keys", web)) == "0=ops")
        #expect(text(get("/latest/meta-data/public-keys/0/", web)) == "openssh-key")
        #expect(text(get("/latest/meta-data/public-keys/0/openssh-key", web))
            == "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== ops@site\n")
        #expect(text(get("/latest/user-data", web)) == "#!/bin/sh\necho hi\n")
        #expect(text(get("/latest/meta-data/network/interfaces/macs/52:54:00:00:00:0a/subnet-ipv4-cidr-block", web))
            == "10.10.0.0/24")
        let listing = text(get("/latest/meta-data/", web)).split(separator: "\n")
        #expect(listing.contains("instance-id") && listing.contains("placement/") && listing.contains("public-keys/"))
        #expect(!listing.contains("public-ipv4"))  // none yet: EC2 leaves it out
        let document = try? JSONSerialization.jsonObject(
            with: get("/latest/dynamic/instance-identity/document", web).body) as? [String: String]
        #expect(document?["instanceId"] == "shop-web-1" && document?["privateIp"] == "10.10.0.10")
        // A service's VEE has no image id or instance type of EC2's.
        #expect(get("/latest/meta-data/ami-id", web).status == 404)
    }

    @Test func anEC2InstanceReadsItsImageAndType() {
        var instance = web
        instance.name = "i-0123456789abcdef0"
        instance.context?.imageId = "ami-0000000000000002b"
        instance.context?.instanceType = "t2.nano"
        #expect(text(get("/latest/meta-data/ami-id", instance)) == "ami-0000000000000002b")
        #expect(text(get("/latest/meta-data/instance-type", instance)) == "t2.nano")
        let document = try? JSONSerialization.jsonObject(
            with: get("/latest/dynamic/instance-identity/document", instance).body) as? [String: String]
        #expect(document?["imageId"] == "ami-0000000000000002b" && document?["instanceType"] == "t2.nano")
    }

    @Test func withoutUserDataOrKeysThoseAreNotFound() {
        #expect(get("/latest/user-data", db).status == 404)
        #expect(get("/latest/meta-data/public-keys/0/openssh-key", db).status == 404)
        #expect(!text(get("/latest/meta-data", db)).contains("public-keys"))
        #expect(get("/latest/meta-data/nothing-here", db).status == 404)
    }

    @Test func anUnknownSourceIsRefused() {
        #expect(get("/latest/meta-data/instance-id", nil, address: "10.10.0.99").status == 403)
        // The guest found, but not at that address on this network (a lookup must not be trusted blindly).
        #expect(get("/latest/meta-data/instance-id", web, address: "10.10.0.11").status == 403)
    }

    @Test func imdsV2TokensAreBoundToTheirVEE() {
        let issued = token(for: web)
        #expect(issued.status == 200)
        #expect(issued.headers["X-Aws-Ec2-Metadata-Token-Ttl-Seconds"] == "60")
        let value = text(issued)
        #expect(get("/latest/meta-data/instance-id", web, headers: ["X-aws-ec2-metadata-token": value]).status == 200)
        // Another VEE showing web's token gets nothing.
        #expect(get("/latest/meta-data/instance-id", db, headers: ["X-aws-ec2-metadata-token": value],
                    address: "10.10.0.11").status == 401)
        #expect(get("/latest/meta-data/instance-id", web, headers: ["X-aws-ec2-metadata-token": "1.abc"]).status == 401)
        // Expired.
        let later = responder.respond(
            to: MetadataRequest(method: "GET", path: "/latest/meta-data/instance-id",
                                headers: ["x-aws-ec2-metadata-token": value]),
            from: web, vni: 1000, address: "10.10.0.10", now: now.addingTimeInterval(61))
        #expect(later == .respond(.text("Unauthorized\n", status: 401)))
    }

    @Test func badTokenRequestsAreRefused() {
        #expect(token(for: web, ttl: "0").status == 400)
        #expect(token(for: web, ttl: "21601").status == 400)
        #expect(token(for: web, ttl: "soon").status == 400)
        #expect(token(for: web, headers: ["X-Forwarded-For": "10.0.0.1"]).status == 403)
        guard case .respond(let response) = responder.respond(
            to: MetadataRequest(method: "DELETE", path: "/latest/meta-data", headers: [:]), from: web, vni: 1000,
            address: "10.10.0.10", now: now) else { Issue.record("not a response"); return }
        #expect(response.status == 405)
    }

    @Test func probesPostKPIsAsJSONOrLines() {
        func post(_ body: String) -> MetadataResponder.Outcome {
            responder.respond(to: MetadataRequest(method: "POST", path: "/veem/v1/kpis", headers: [:],
                                                  body: Data(body.utf8)),
                              from: web, vni: 1000, address: "10.10.0.10", now: now)
        }
        #expect(post(#"{"RequestPerSecond": 750, "Load": 0.5}"#) == .kpis(["RequestPerSecond": 750, "Load": 0.5]))
        #expect(post("RequestPerSecond 750\nLoad=0.5\n") == .kpis(["RequestPerSecond": 750, "Load": 0.5]))
        for bad in ["", "{}", #"{"a": "x"}"#, #"{"a": true}"#, "a b c", "bad/name 1", "a nan"] {
            guard case .respond(let response) = post(bad) else { Issue.record("accepted '\(bad)'"); continue }
            #expect(response.status == 400, "\(bad)")
        }
        let many = (0...MetadataResponder.maxKPIs).map { "k\($0) 1" }.joined(separator: "\n")
        guard case .respond(let response) = post(many) else { Issue.record("accepted too many"); return }
        #expect(response.status == 400)
    }

    @Test func tokensKeptInAFileSurviveARestart() throws {
        let path = NSTemporaryDirectory() + "veem-metadata-key-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try MetadataTokens.persistent(at: path)
        let value = first.issue(for: "vee-web", ttlSeconds: 60, now: now)
        let again = try MetadataTokens.persistent(at: path)
        #expect(again.isValid(value, for: "vee-web", now: now))
        #expect(!again.isValid(value, for: "vee-db", now: now))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
    }
}

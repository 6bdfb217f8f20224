import Foundation
import Testing
import VeemClient
import VeemTestSupport
import VMI

/// Each malformed message gets an ErrorReply naming the problem, and changes nothing.
@Suite struct BadInputTests {
    @Test func everyKindOfBadRequestIsRefusedAndChangesNothing() async throws {
        try await withSite { site in
            let driver = try await sharedTestDriver()
            let host = uniqueHost()
            try await site.startCoordinatorAndAgent(host, driver: driver)
            let client = site.client!
            let web = try await site.define(vee("web1"))
            let before = try await client.site()
            let eventsBefore = site.watcher.seen.filter { $0.vee != nil }.count

            /// `ID` in `text` is replaced by the request's id.
            func refusal(_ text: String) async throws -> [VMIError] {
                let id = UUID().uuidString.lowercased()
                let reply = try await client.requestBytes(Array(text.replacingOccurrences(of: "ID", with: id).utf8),
                                                          id: id)
                let envelope = try VMI.decode(ErrorReply.self, from: reply)
                #expect(envelope.correlationId == id)
                return envelope.body.errors
            }
            func refusal<Body: VMIBody>(_ body: Body) async throws -> [VMIError] {
                do {
                    _ = try await client.request(body, expecting: VEEsAccepted.self)
                    Issue.record("\(Body.messageType) was accepted")
                    return []
                } catch VeemClientError.refused(let errors) {
                    return errors
                }
            }
            let envelope = #""id":"ID","sentAt":"2026-11-26T10:00:00Z","sender":"test""#

            #expect(try await refusal("{not json").first?.code == .malformedMessage)
            #expect(try await refusal(#"{"v":1,"type":"Teleport",\#(envelope),"body":{}}"#).first?.code
                    == .unknownMessageType)
            #expect(try await refusal(#"{"v":7,"type":"VEEUpdate",\#(envelope),"body":{}}"#).first?.field == "v")
            let missing = try await refusal(#"{"v":1,"type":"VEEUpdate",\#(envelope),"body":{"vee":"web1"}}"#)
            #expect(missing.first?.code == .malformedMessage)
            #expect(missing.first?.message.contains("body.action") == true)
            // A host report is not a request.
            let body = #""body":{"host":"h","sequence":1,"runningDomains":0}"#
            #expect(try await refusal(#"{"v":1,"type":"Heartbeat",\#(envelope),\#(body)}"#).first?.code
                    == .unknownMessageType)

            #expect(try await refusal(VEEUpdate(vee: "ghost", action: .activate)).first?.code == .unknownVEE)
            for request in [ScaleService(service: "ghost", component: "C1", replicas: 2) as any VMIBody,
                            UndeployService(service: "ghost"), ServiceInformation(service: "ghost")] {
                let refused = try await refusal(request)
                #expect(refused.first?.code == .unknownService && refused.first?.field == "service",
                        "\(type(of: request)): \(refused)")
            }
            let illegal = try await refusal(VEEUpdate(vee: "web1", action: .pause))
            #expect(illegal.first?.code == .illegalTransition)
            #expect(illegal.first?.message.contains("DEFINED") == true)
            let tooBig = try await refusal(SubmitVEEs(vees: [vee("small"), vee("huge", cpus: 200)]))
            #expect(tooBig.first?.code == .insufficientCapacity)
            #expect(tooBig.first?.field == "vees[1]")
            let invalid = try await refusal(SubmitVEEs(vees: [
                VEESpec(name: "bad name", cpus: 0, memoryMiB: 1, diskGiB: 1, image: "tiny"),
            ]))
            #expect(invalid.compactMap(\.field) == ["vees[0].name", "vees[0].cpus", "vees[0].memoryMiB"])
            #expect(try await refusal(InitializeVEE(vee: vee("web1"))).first?.code == .duplicateName)
            #expect(try await refusal(InitializeVEE(vee: VEESpec(name: "x", image: "no-such-image"))).first?.message
                    .contains("no-such-image") == true)
            #expect(try await refusal(SubmitVEEs(vees: [])).first?.field == "vees")

            // Nothing changed: same VEEs in the same states, nothing new on libvirt, no new site events.
            let after = try await client.site()
            #expect(after.vees == before.vees)
            #expect(try await driver.ownedDomains(host: host).map(\.vee) == [web.id])
            #expect(site.watcher.seen.filter { $0.vee != nil }.count == eventsBefore)
        }
    }
}

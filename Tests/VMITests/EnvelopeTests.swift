import Foundation
import Testing
@testable import VMI

@Suite struct EnvelopeTests {
    static let sentAt = Date(timeIntervalSince1970: 1_795_000_000.5)

    func roundTrip<Body: VMIBody & Equatable>(_ body: Body) throws {
        let envelope = Envelope(body: body, sender: "test", correlationId: "c-1", sentAt: Self.sentAt)
        let bytes = VMI.encode(envelope)
        let (header, type) = try VMI.decodeHeader(bytes)
        #expect(type == Body.messageType)
        #expect(header.id == envelope.id)
        #expect(header.correlationId == "c-1")
        #expect(header.sentAt == Self.sentAt)
        let decoded = try VMI.decode(Body.self, from: bytes)
        #expect(decoded.body == body)
        #expect(decoded.v == VMI.version)
        // The one-pass decoder picks the body type from the header.
        let message = try VMI.open(bytes)
        #expect(message.type == Body.messageType)
        #expect(try message.body(as: Body.self) == body)
        #expect(message.header.id == envelope.id)
    }

    @Test func everyMessageRoundTrips() throws {
        let spec = VEESpec(name: "web1", cpus: 2, memoryMiB: 512, diskGiB: 3, image: "tiny", networks: ["red"])
        let view = VEEView(id: "v-1", spec: spec, host: "h1", desired: .active, observed: .booting,
                           lastError: nil, generation: 2, updatedAt: Self.sentAt)
        let host = HostView(id: "h1", hypervisor: "QEMU 7.2.0", domainType: "qemu",
                            capacity: Resources(cpus: 2, memoryMiB: 2048, diskGiB: 10), allocated: spec.resources,
                            state: .up, lastHeartbeat: Self.sentAt, images: ["tiny"])
        try roundTrip(InitializeVEE(vee: spec))
        try roundTrip(SubmitVEEs(vees: [spec, spec]))
        for action in VEEAction.allCases { try roundTrip(VEEUpdate(vee: "web1", action: action)) }
        try roundTrip(MonitoringInformation(vee: "web1"))
        try roundTrip(MonitoringInformation())
        try roundTrip(PutMonitoringInformation(vee: "web1", kpis: ["RequestPerSecond": 1200], measuredAt: Self.sentAt))
        try roundTrip(SiteMonitoringInformation())
        try roundTrip(VEEsAccepted(vees: [view]))
        try roundTrip(ErrorReply(VMIError(code: .unknownVEE, field: "vee", message: "no such VEE")))
        try roundTrip(MonitoringReport(vees: [VEEMonitoring(vee: "v-1", name: "web1", metrics: ["cpu.load": 0.5],
                                                            kpis: ["Users": 10], updatedAt: Self.sentAt)]))
        try roundTrip(SiteReport(site: "site1", hosts: [host], vees: [view]))
        try roundTrip(SiteEvent(kind: .hostDown, host: "h1", message: "gone"))
        try roundTrip(HostRegistration(host: "h1", hypervisor: "Test 0.0.2", domainType: "test",
                                       capacity: host.capacity, images: ["tiny"],
                                       vees: [VEEObservation(vee: "v-1", state: .active)]))
        try roundTrip(Heartbeat(host: "h1", sequence: 7, runningDomains: 3))
        try roundTrip(VEEStateReport(host: "h1", observation: VEEObservation(vee: "v-1", state: .failed,
                                                                            error: "boom", spontaneous: true)))
        try roundTrip(VEEMetrics(host: "h1", samples: ["v-1": ["cpu.load": 0.25]]))
        try roundTrip(ConvergeVEE(vee: "v-1", spec: spec, desired: .suspended, generation: 4, shutdownTimeout: 30))
    }

    /// The wire format is a contract: these files are what older and newer peers send.
    @Test(arguments: ["SubmitVEEs", "VEEUpdate", "ConvergeVEE", "ErrorReply", "HostRegistration"])
    func goldenFixturesDecodeAndReencodeByteForByte(name: String) throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "json"))
        let text = try String(contentsOf: url, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let bytes = Array(text.utf8)
        let (_, type) = try VMI.decodeHeader(bytes)
        #expect(type.rawValue == name)
        func reencode<Body: VMIBody>(_: Body.Type) throws -> String {
            let envelope = try VMI.decode(Body.self, from: bytes)
            return String(decoding: VMI.encode(envelope), as: UTF8.self)
        }
        let again: String
        switch type {
        case .submitVEEs: again = try reencode(SubmitVEEs.self)
        case .veeUpdate: again = try reencode(VEEUpdate.self)
        case .convergeVEE: again = try reencode(ConvergeVEE.self)
        case .errorReply: again = try reencode(ErrorReply.self)
        case .hostRegistration: again = try reencode(HostRegistration.self)
        default: Issue.record("no fixture for \(type)"); return
        }
        #expect(again.replacingOccurrences(of: "\"correlationId\":null,", with: "")
                    == text.replacingOccurrences(of: "\"correlationId\":null,", with: ""))
    }

    @Test func aReaderIgnoresFieldsAddedLater() throws {
        let text = #"{"v":1,"type":"VEEUpdate","id":"x","sentAt":"2026-11-26T10:00:00Z","sender":"s","#
            + #""future":{"a":1},"body":{"vee":"web1","action":"PAUSE","priority":"high"}}"#
        let envelope = try VMI.decode(VEEUpdate.self, from: Array(text.utf8))
        #expect(envelope.body == VEEUpdate(vee: "web1", action: .pause))
    }

    @Test func malformedEnvelopesAreRefusedWithTheReason() {
        func refusal(_ text: String) -> VMIError? {
            do {
                _ = try VMI.decodeHeader(Array(text.utf8))
                return nil
            } catch {
                return error
            }
        }
        #expect(refusal("not json")?.code == .malformedMessage)
        let missing = refusal(#"{"v":1,"id":"x","sentAt":"2026-11-26T10:00:00Z","sender":"s"}"#)
        #expect(missing?.code == .malformedMessage)
        #expect(missing?.message.contains("'type'") == true)
        let future = refusal(#"{"v":99,"type":"VEEUpdate","id":"x","sentAt":"2026-11-26T10:00:00Z","sender":"s"}"#)
        #expect(future?.code == .unsupportedVersion)
        #expect(future?.field == "v")
        let unknown = refusal(#"{"v":1,"type":"Teleport","id":"x","sentAt":"2026-11-26T10:00:00Z","sender":"s"}"#)
        #expect(unknown?.code == .unknownMessageType)
        #expect(unknown?.message.contains("Teleport") == true)
    }

    @Test func openRefusesLikeTheHeaderDecoderAndNamesBodyFields() {
        func refusal(_ text: String) -> VMIError? {
            do {
                _ = try VMI.open(Array(text.utf8))
                return nil
            } catch {
                return error
            }
        }
        let envelope = #""id":"x","sentAt":"2026-11-26T10:00:00Z","sender":"s""#
        #expect(refusal("[]")?.code == .malformedMessage)
        #expect(refusal(#"{"v":2,"type":"VEEUpdate",\#(envelope),"body":{}}"#)?.code == .unsupportedVersion)
        #expect(refusal(#"{"v":1,"type":"Nope",\#(envelope),"body":{}}"#)?.code == .unknownMessageType)
        let shape = refusal(#"{"v":1,"type":"VEEUpdate",\#(envelope),"body":{"vee":"a","action":7}}"#)
        #expect(shape?.code == .malformedMessage)
        #expect(shape?.message.contains("body.action") == true)
        let message = try? VMI.open(Array(#"{"v":1,"type":"Heartbeat",\#(envelope),"body":{"host":"h","sequence":1,"runningDomains":0}}"#.utf8))
        #expect(throws: VMIError.self) { try message?.body(as: VEEUpdate.self) }
    }

    @Test(arguments: ["1.5", "1e30", "99999999999999999999", "-3.5"])
    func aNumberThatIsNoWholeNumberNamesItsField(_ number: String) {
        let envelope = #""id":"x","sentAt":"2026-11-26T10:00:00Z","sender":"s""#
        let text = #"{"v":1,"type":"InitializeVEE",\#(envelope),"body":{"vee":{"name":"a","cpus":\#(number),"#
            + #""memoryMiB":128,"diskGiB":1,"image":"small"}}}"#
        do {
            _ = try VMI.open(Array(text.utf8))
            Issue.record("\(number) accepted as cpus")
        } catch {
            #expect(error.code == .malformedMessage)
            #expect(error.message.contains("body.vee.cpus"), "\(number): \(error.message)")
        }
    }

    @Test func aDocumentWithASyntaxErrorNamesItsLineAndColumn() {
        #expect(throws: VMIError.self) { try VMI.decodeDocument(SubmitVEEs.self, from: Data("{\"vees\": [\n  {\"name\" 1}]}".utf8)) }
        do {
            _ = try VMI.decodeDocument(SubmitVEEs.self, from: Data("{\"vees\": [\n  {\"name\" 1}]}".utf8))
        } catch {
            #expect(error.message.contains("line 2, column 11"), "\(error.message)")
        }
    }

    @Test func anErrorCodeAddedLaterReadsAsInternalErrorWithItsMessage() throws {
        let text = #"{"code":"SomethingNew","field":"x","message":"explained"}"#
        let error = try JSONDecoder().decode(VMIError.self, from: Data(text.utf8))
        #expect(error == VMIError(code: .internalError, field: "x", message: "explained"))
    }

    @Test func aBodyOfTheWrongShapeNamesTheField() {
        let text = #"{"v":1,"type":"VEEUpdate","id":"x","sentAt":"2026-11-26T10:00:00Z","sender":"s","#
            + #""body":{"vee":"web1","action":"EXPLODE"}}"#
        #expect(throws: VMIError.self) { try VMI.decode(VEEUpdate.self, from: Array(text.utf8)) }
        do {
            _ = try VMI.decode(VEEUpdate.self, from: Array(text.utf8))
        } catch {
            #expect(error.code == .malformedMessage)
            #expect(error.message.contains("body.action"))
        }
    }
}

@Suite struct WireDateTests {
    @Test func formatsUTCWithMilliseconds() {
        #expect(WireDate.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(WireDate.format(Date(timeIntervalSince1970: 1_795_000_000.5)) == "2026-11-18T11:06:40.500Z")
        #expect(WireDate.format(Date(timeIntervalSince1970: -0.25)) == "1969-12-31T23:59:59.750Z")
        #expect(WireDate.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000Z")
    }

    @Test func parsesWhatItWritesAndOtherISO8601Forms() {
        for seconds in [0.0, 1_795_000_000.5, 951_782_400, -86_400.125, 4_102_444_799.999] {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(WireDate.parse(WireDate.format(date)) == date)
        }
        #expect(WireDate.parse("2026-11-26T10:00:00Z") == Date(timeIntervalSince1970: 1_795_687_200))
        #expect(WireDate.parse("2026-11-26T11:30:00+01:30") == Date(timeIntervalSince1970: 1_795_687_200))
        #expect(WireDate.parse("2026-11-26T10:00:00.5Z")?.timeIntervalSince1970 == 1_795_687_200.5)
    }

    @Test(arguments: ["", "2026-11-26", "2026-13-01T00:00:00Z", "2026-11-26T10:00:00", "2026-11-26T10:00:00Zjunk",
                      "2026-11-26T25:00:00Z", "2026-11-26T10:00:00.Z", "yyyy-mm-ddT00:00:00Z"])
    func refusesWhatIsNotADate(text: String) {
        #expect(WireDate.parse(text) == nil)
    }
}

import Foundation
import Hypervisor
import Testing
import VMI

/// The libvirt driver on libvirt's in-process test driver (real libvirt code, no daemon).
@Suite struct LibvirtDriverTests {
    static func driver() async throws -> LibvirtDriver {
        try await LibvirtDriver.open(uri: "test:///default",
                                     diskDirectory: NSTemporaryDirectory() + "veem-hv-\(UUID().uuidString)")
    }

    func define(_ driver: LibvirtDriver, host: String = "h-\(UUID().uuidString.prefix(6))",
                name: String = "web1") async throws -> DomainRecord {
        let record = DomainRecord(vee: UUID().uuidString.lowercased(), host: host,
                                  spec: VEESpec(name: name, memoryMiB: 64, diskGiB: 1, image: "tiny"),
                                  desired: .defined, generation: 1)
        let disk = try await driver.ensureDisk(record.vee, sizeGiB: 1, backing: nil)
        try await driver.define(xml: DomainXML.domain(record: record, domainType: "test",
                                                      image: GuestImage(name: "tiny"), diskPath: disk,
                                                      consolePath: "/tmp/\(record.vee).log"))
        return record
    }

    @Test func theWholeLifecycle() async throws {
        let driver = try await Self.driver()
        let record = try await define(driver)
        let vee = record.vee
        #expect(try await driver.status(of: vee) == .shutoff(managedSave: false))
        try await driver.start(vee)
        #expect(try await driver.status(of: vee) == .running)
        try await driver.pause(vee)
        #expect(try await driver.status(of: vee) == .paused)
        try await driver.resume(vee)
        try await driver.reboot(vee)
        #expect(try await driver.status(of: vee) == .running)
        try await driver.reset(vee)
        #expect(try await driver.status(of: vee) == .running)
        try await driver.managedSave(vee)
        #expect(try await driver.status(of: vee) == .shutoff(managedSave: true))
        try await driver.start(vee)
        #expect(try await driver.status(of: vee) == .running)
        try await driver.requestShutdown(vee)
        #expect(try await driver.status(of: vee) == .shutoff(managedSave: false))
        try await driver.undefine(vee)
        try await driver.deleteDisk(vee)
        #expect(try await driver.status(of: vee) == nil)
        // Gone is gone: repeating the cleanup is harmless.
        try await driver.undefine(vee)
        try await driver.deleteDisk(vee)
    }

    @Test func onlyDomainsCarryingThisHostsRecordAreOwned() async throws {
        let driver = try await Self.driver()
        let mine = try await define(driver, host: "owner-\(UUID().uuidString.prefix(6))")
        _ = try await define(driver, host: "someone-else")
        let owned = try await driver.ownedDomains(host: mine.host)
        #expect(owned.map(\.vee) == [mine.vee])
        #expect(owned.first?.record == mine)
        // test:///default's own domain "test" carries no record and is never owned.
        #expect(try await driver.ownedDomains(host: "").isEmpty)
        try await driver.undefine(mine.vee)
    }

    @Test func theRecordCanBeReplacedLiveAndPersistently() async throws {
        let driver = try await Self.driver()
        var record = try await define(driver)
        try await driver.start(record.vee)
        record.desired = .paused
        record.generation = 9
        try await driver.setRecord(record)
        #expect(try await driver.record(of: record.vee) == record)
        try await driver.powerOff(record.vee)
        #expect(try await driver.record(of: record.vee) == record)
        try await driver.undefine(record.vee)
    }

    @Test func lifecycleEventsArrive() async throws {
        let driver = try await Self.driver()
        let events = driver.events()
        let record = try await define(driver)
        try await driver.start(record.vee)
        try await driver.powerOff(record.vee)
        var kinds: [DomainEvent.Kind] = []
        for await event in events where event.uuid == record.vee {
            kinds.append(event.kind)
            if event.kind == .stopped { break }
        }
        #expect(kinds == [.defined, .started, .stopped])
        try await driver.undefine(record.vee)
    }

    @Test func statisticsCoverRunningDomains() async throws {
        let driver = try await Self.driver()
        let record = try await define(driver)
        try await driver.start(record.vee)
        let statistics = try await driver.statistics()
        #expect(statistics[record.vee]?["state.state"] == 1)
        try await driver.powerOff(record.vee)
        try await driver.undefine(record.vee)
    }

    @Test func hostFactsNameTheDriver() async throws {
        let facts = try await Self.driver().hostFacts()
        #expect(facts.driver == "TEST" || facts.driver == "Test")
        #expect(facts.domainTypes.contains("test"))
        #expect(facts.cpus > 0 && facts.memoryMiB > 0)
    }

    @Test func errorsCarryLibvirtsReason() async throws {
        let driver = try await Self.driver()
        await #expect(throws: HypervisorError.self) { try await driver.start(UUID().uuidString.lowercased()) }
        await #expect(throws: HypervisorError.self) { try await driver.define(xml: "<domain><oops") }
    }
}

import Foundation
import Inventory
import Testing
import VMI

@Suite struct InventoryTests {
    let path = NSTemporaryDirectory() + "veem-inventory-\(UUID().uuidString)/site.sqlite"
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    func registration(_ host: String, cpus: Int = 4, memoryMiB: Int = 4096,
                      vees: [VEEObservation] = []) -> HostRegistration {
        HostRegistration(host: host, hypervisor: "Test 0.0.2", domainType: "test",
                         capacity: Resources(cpus: cpus, memoryMiB: memoryMiB, diskGiB: 100), images: ["tiny"],
                         vees: vees)
    }

    func spec(_ name: String, cpus: Int = 1) -> VEESpec { VEESpec(name: name, cpus: cpus, image: "tiny") }

    @Test func migrationsApplyOnceAndSurviveReopening() async throws {
        let first = try Inventory(path: path)
        #expect(try await first.appliedMigrations() == ["v1: hosts, vees, events, requests, samples"])
        try await first.register(registration("h1"), at: now)
        let again = try Inventory(path: path)
        #expect(try await again.appliedMigrations().count == 1)
        #expect(try await again.hosts().map(\.id) == ["h1"])
    }

    @Test func admittedVEEsReserveCapacityAndNamesStayUnique() async throws {
        let inventory = try Inventory(path: path)
        try await inventory.register(registration("h1"), at: now)
        let views = try await inventory.admit([spec("a", cpus: 2), spec("b")], at: now) { hosts in
            #expect(hosts.count == 1)
            return ["h1", "h1"]
        }
        #expect(views.map(\.observed) == [.pending, .pending])
        #expect(try await inventory.hosts()[0].allocated.cpus == 3)
        await #expect(throws: VMIError.self) {
            _ = try await inventory.admit([spec("a")], at: now) { _ in ["h1"] }
        }
        #expect(try await inventory.vees().count == 2)
    }

    @Test func aRefusedPlacementWritesNothing() async throws {
        let inventory = try Inventory(path: path)
        try await inventory.register(registration("h1"), at: now)
        struct NoRoom: Error {}
        await #expect(throws: NoRoom.self) {
            _ = try await inventory.admit([spec("a"), spec("b")], at: now) { _ in throw NoRoom() }
        }
        #expect(try await inventory.vees().isEmpty)
        #expect(try await inventory.events().isEmpty)
    }

    @Test func desiredStateChangesBumpTheGenerationAndRecordTheReply() async throws {
        let inventory = try Inventory(path: path)
        try await inventory.register(registration("h1"), at: now)
        let vee = try await inventory.admit([spec("a")], at: now) { _ in ["h1"] }[0]
        let (view, changed) = try await inventory.updateDesired("a", at: now, request: "r-1") { _ in .active }
            reply: { _ in Array("ok".utf8) }
        #expect(changed && view.desired == .active && view.generation == vee.generation + 1)
        #expect(try await inventory.reply(forRequest: "r-1") == Array("ok".utf8))
        let (_, again) = try await inventory.updateDesired(vee.id, at: now) { _ in .active }
        #expect(!again)
        await #expect(throws: VMIError.self) {
            _ = try await inventory.updateDesired("nope", at: now) { _ in .active }
        }
    }

    @Test func observationsAreRecordedOnceAndOnlyFromTheVEEsHost() async throws {
        let inventory = try Inventory(path: path)
        try await inventory.register(registration("h1"), at: now)
        try await inventory.register(registration("h2"), at: now)
        let vee = try await inventory.admit([spec("a")], at: now) { _ in ["h1"] }[0]
        #expect(try await inventory.unconverged().map(\.id) == [vee.id])
        #expect(try await inventory.observe(VEEObservation(vee: vee.id, state: .defined), from: "h2", at: now) == nil)
        let seen = try await inventory.observe(VEEObservation(vee: vee.id, state: .defined), from: "h1", at: now)
        #expect(seen?.observed == .defined)
        #expect(try await inventory.observe(VEEObservation(vee: vee.id, state: .defined), from: "h1", at: now) == nil)
        #expect(try await inventory.unconverged().isEmpty)
    }

    @Test func silentHostsAreMarkedDownOnceAndComeBackWithAHeartbeat() async throws {
        let inventory = try Inventory(path: path)
        try await inventory.register(registration("h1"), at: now)
        try await inventory.register(registration("h2"), at: now.addingTimeInterval(10))
        #expect(try await inventory.markHostsDown(silentSince: now.addingTimeInterval(5)) == ["h1"])
        #expect(try await inventory.markHostsDown(silentSince: now.addingTimeInterval(5)).isEmpty)
        #expect(try await inventory.hosts().map(\.state) == [.down, .up])
        #expect(try await inventory.heartbeat(host: "h1", at: now.addingTimeInterval(11)))
        #expect(try await inventory.hosts().map(\.state) == [.up, .up])
    }

    @Test func samplesKeepTheLatestValuePerName() async throws {
        let inventory = try Inventory(path: path)
        try await inventory.register(registration("h1"), at: now)
        let vee = try await inventory.admit([spec("a")], at: now) { _ in ["h1"] }[0]
        try await inventory.recordSamples(vee: vee.id, source: "kpi", values: ["Users": 5], at: now)
        try await inventory.recordSamples(vee: vee.id, source: "kpi", values: ["Users": 7], at: now)
        try await inventory.recordSamples(vee: vee.id, source: "metric", values: ["cpu.load": 0.5], at: now)
        let report = try await inventory.monitoring(vee: vee.id)
        #expect(report.count == 1 && report[0].kpis == ["Users": 7] && report[0].metrics == ["cpu.load": 0.5])
    }
}

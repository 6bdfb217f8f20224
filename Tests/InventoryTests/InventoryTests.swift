import Foundation
import Inventory
import Testing
import VMI

@Suite struct InventoryTests {
    let path = NSTemporaryDirectory() + "veem-inventory-\(UUID().uuidString)/site.sqlite"
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    func registration(_ host: String, cpus: Int = 4) -> HostRegistration {
        HostRegistration(host: host, hypervisor: "Test 0.0.2", domainType: "test",
                         capacity: Resources(cpus: cpus, memoryMiB: 4096, diskGiB: 100), images: ["tiny"], vees: [])
    }

    func spec(_ name: String, cpus: Int = 1) -> VEESpec { VEESpec(name: name, cpus: cpus, image: "tiny") }

    func gold(_ specs: [VEESpec]) -> [Admission] { specs.map { Admission(spec: $0, slaClass: "Gold") } }

    /// An inventory with hosts `h1` and `h2` registered.
    func inventory() async throws -> Inventory {
        let inventory = try Inventory(path: path)
        let (now, one, two) = (now, registration("h1"), registration("h2"))
        try await inventory.write { tx in
            try tx.register(one, at: now)
            try tx.register(two, at: now)
        }
        return inventory
    }

    @Test func migrationsApplyOnceAndSurviveReopening() async throws {
        _ = try await inventory()
        let again = try Inventory(path: path)
        #expect(try await again.appliedMigrations() == ["v1: hosts, vees, events, requests, samples",
                                                         "v2: host groups; VEE classes, services and components",
                                                         "v3: services, components, KPI history",
                                                         "v4: component CPU sizes set by rules",
                                                         "v5: EC2 accounts, access keys, cloud resources, tags",
                                                         "v6: VEEs by name; changes to VEE footprints, for the placement cache",
                                                         "v7: reboots asked for each VEE",
                                                         "v8: why a component has fewer replicas than desired",
                                                         "v9: networks, interfaces, hosts' underlay addresses",
                                                         "v10: each EC2 instance's security groups as its host enforces them"])
        #expect(try await again.read { try $0.hosts() }.map(\.id) == ["h1", "h2"])
    }

    @Test func admittedVEEsReserveCapacityAndNamesStayUnique() async throws {
        let inventory = try await inventory()
        let (now, a, b) = (now, spec("a", cpus: 2), spec("b"))
        let views = try await inventory.write { tx in try tx.admit(gold([a, b]), at: now) { _, _ in ["h1", "h1"] } }
        #expect(views.map(\.observed) == [.pending, .pending])
        #expect(try await inventory.read { try $0.hosts() }[0].allocated.cpus == 3)
        await #expect(throws: VMIError.self) {
            _ = try await inventory.write { tx in try tx.admit(gold([a]), at: now) { _, _ in ["h2"] } }
        }
        #expect(try await inventory.read { try $0.vees() }.count == 2)
    }

    @Test func aRefusedPlacementWritesNothing() async throws {
        let inventory = try await inventory()
        let (now, a, b) = (now, spec("a"), spec("b"))
        struct NoRoom: Error {}
        await #expect(throws: NoRoom.self) {
            _ = try await inventory.write { tx in try tx.admit(gold([a, b]), at: now) { _, _ in throw NoRoom() } }
        }
        #expect(try await inventory.read { try $0.vees() }.isEmpty)
        #expect(try await inventory.read { try $0.events() }.isEmpty)
    }

    @Test func aFailedItemInABatchIsUndoneWhileTheRestCommits() async throws {
        let inventory = try await inventory()
        let (now, a, b) = (now, spec("a"), spec("b"))
        let outcomes = try await inventory.write { tx in
            [
                (try? tx.isolated { try tx.admit(gold([a]), at: now) { _, _ in ["h1"] } }) != nil,
                (try? tx.isolated { () -> [VEEView] in
                    _ = try tx.admit(gold([b]), at: now) { _, _ in ["h1"] }
                    throw VMIError(code: .invalidParameter, message: "refused after writing")
                }) != nil,
            ]
        }
        #expect(outcomes == [true, false])
        #expect(try await inventory.read { try $0.vees() }.map(\.spec.name) == ["a"])
    }

    @Test func desiredStateChangesBumpTheGeneration() async throws {
        let inventory = try await inventory()
        let (now, a) = (now, spec("a"))
        let vee = try await inventory.write { tx in try tx.admit(gold([a]), at: now) { _, _ in ["h1"] } }[0]
        let (view, changed) = try await inventory.write { tx in try tx.updateDesired("a", at: now) { _ in .active } }
        #expect(changed && view.desired == .active && view.generation == vee.generation + 1)
        let (_, again) = try await inventory.write { tx in try tx.updateDesired(vee.id, at: now) { _ in .active } }
        #expect(!again)
        await #expect(throws: VMIError.self) {
            _ = try await inventory.write { tx in try tx.updateDesired("nope", at: now) { _ in .active } }
        }
    }

    @Test func repliesAreRecordedPerRequest() async throws {
        let inventory = try await inventory()
        let now = now
        try await inventory.write { tx in try tx.recordReply(Array("ok".utf8), forRequest: "r-1", at: now) }
        #expect(try await inventory.read { try $0.reply(forRequest: "r-1") } == Array("ok".utf8))
        #expect(try await inventory.read { try $0.reply(forRequest: "r-2") } == nil)
        try await inventory.write { tx in try tx.forgetReplies(before: now.addingTimeInterval(-1)) }
        #expect(try await inventory.read { try $0.reply(forRequest: "r-1") } != nil)
        try await inventory.write { tx in try tx.forgetReplies(before: now.addingTimeInterval(1)) }
        #expect(try await inventory.read { try $0.reply(forRequest: "r-1") } == nil)
    }

    @Test func observationsAreRecordedOnceAndOnlyFromTheVEEsHost() async throws {
        let inventory = try await inventory()
        let (now, a) = (now, spec("a"))
        let vee = try await inventory.write { tx in try tx.admit(gold([a]), at: now) { _, _ in ["h1"] } }[0]
        let defined = VEEObservation(vee: vee.id, state: .defined)
        #expect(try await inventory.read { try $0.unconverged() }.map(\.id) == [vee.id])
        #expect(try await inventory.write { tx in try tx.observe(defined, from: "h2", at: now) } == nil)
        #expect(try await inventory.write { tx in try tx.observe(defined, from: "h1", at: now) }?.observed == .defined)
        #expect(try await inventory.write { tx in try tx.observe(defined, from: "h1", at: now) } == nil)
        #expect(try await inventory.read { try $0.unconverged() }.isEmpty)
    }

    @Test func silentHostsAreMarkedDownOnceAndComeBackWithAHeartbeat() async throws {
        let inventory = try await inventory()
        let (now, late) = (now, registration("h2"))
        try await inventory.write { tx in try tx.register(late, at: now.addingTimeInterval(10)) }
        let cutoff = now.addingTimeInterval(5)
        let judged = now.addingTimeInterval(20)
        #expect(try await inventory.write { try $0.markHostsDown(silentSince: cutoff, at: judged) } == ["h1"])
        #expect(try await inventory.write { try $0.markHostsDown(silentSince: cutoff, at: judged) }.isEmpty)
        // Stored when it was judged, not when the window began.
        let down = try await inventory.read { try $0.events() }.filter { $0.kind == .hostDown }
        #expect(down.map(\.host) == ["h1"] && down.map(\.at) == [judged])
        #expect(try await inventory.read { try $0.hosts() }.map(\.state) == [.down, .up])
        // Read after the judgement from a backlog of reports: one sent before the silence it was judged for
        // (a window of 15 s before it) confirms it; one sent within that window disproves it.
        #expect(try await inventory.write {
            try $0.heartbeat(host: "h1", at: now.addingTimeInterval(21), sentAt: now.addingTimeInterval(4), window: 15)
        } == .stale)
        #expect(try await inventory.read { try $0.hosts() }.map(\.state) == [.down, .up])
        #expect(try await inventory.write {
            try $0.heartbeat(host: "h1", at: now.addingTimeInterval(22), sentAt: now.addingTimeInterval(6), window: 15)
        } == .cameBack)
        #expect(try await inventory.write { try $0.heartbeat(host: "h1", at: now.addingTimeInterval(23)) } == .known)
        #expect(try await inventory.write { try $0.heartbeat(host: "h9", at: now.addingTimeInterval(12)) } == .unknown)
        #expect(try await inventory.read { try $0.hosts() }.map(\.state) == [.up, .up])
    }

    @Test func samplesKeepTheLatestValuePerName() async throws {
        let inventory = try await inventory()
        let (now, a) = (now, spec("a"))
        let vee = try await inventory.write { tx in try tx.admit(gold([a]), at: now) { _, _ in ["h1"] } }[0]
        try await inventory.write { tx in
            try tx.recordSamples(vee: vee.id, source: "kpi", values: ["Users": 5], at: now)
            try tx.recordSamples(vee: vee.id, source: "kpi", values: ["Users": 7], at: now)
            try tx.recordSamples(vee: vee.id, source: "metric", values: ["cpu.load": 0.5], at: now)
        }
        let report = try await inventory.read { try $0.monitoring(vee: vee.id) }
        #expect(report.count == 1 && report[0].kpis == ["Users": 7] && report[0].metrics == ["cpu.load": 0.5])
    }
}

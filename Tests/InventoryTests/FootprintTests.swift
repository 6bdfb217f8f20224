import Foundation
import Inventory
import PropertyTesting
import Testing
import VMI

/// The footprint a write transaction gets from the inventory's cache must always be the one a full read gives,
/// whatever changed it and whatever was rolled back.
extension InventoryTests {
    struct Refused: Error {}

    /// One random change inside a write transaction; sometimes reads the footprint midway.
    static func change(_ tx: InventoryTransaction, _ g: inout Generator, step: Int, now: Date) throws {
        let live = try tx.vees().filter { $0.desired != .destroyed }
        if g.bool(0.3) { _ = try tx.footprint() }
        switch g.int(0...3) {
        case 0, 1:
            let spec = VEESpec(name: "v\(step)", cpus: g.int(1...3), image: "tiny")
            let host = g.bool() ? "h1" : "h2"
            _ = try tx.admit([Admission(spec: spec, slaClass: g.bool() ? "Gold" : "Bronze")], at: now) { _, _ in [host] }
        case 2:
            guard let vee = live.randomElement(using: &g) else { return }
            _ = try tx.updateDesired(vee.id, at: now) { _ in .destroyed }
        default:
            guard let vee = live.randomElement(using: &g) else { return }
            _ = try tx.move(vee.id, to: vee.host == "h1" ? "h2" : "h1", at: now)
        }
        if g.bool(0.3) { _ = try tx.footprint() }
    }

    @Test(arguments: 1...20) func theCachedFootprintIsAlwaysWhatAFullReadGives(seed: Int) async throws {
        let inventory = try await inventory()
        let other = try Inventory(path: path)  // another connection: changes the cache never saw being made
        var g = Generator(state: UInt64(seed))
        let now = now
        for step in 0..<60 {
            let kind = g.int(0...9)
            let stepSeed = g.next()  // each transaction draws from its own generator (closures are Sendable)
            if kind == 1 {
                try await other.write { tx in
                    var g = Generator(state: stepSeed)
                    try Self.change(tx, &g, step: step, now: now)
                }
            } else {
                _ = try? await inventory.write { tx in
                    var g = Generator(state: stepSeed)
                    for part in 0..<g.int(1...3) {
                        let refuse = g.bool(0.3)
                        _ = try? tx.isolated {
                            try Self.change(tx, &g, step: step * 10 + part, now: now)
                            if refuse { throw Refused() }  // this savepoint rolls back, the rest goes on
                        }
                    }
                    if kind == 0 { throw Refused() }  // the whole transaction rolls back
                }
            }
            let cached = try await inventory.write { try $0.footprint() }
            let read = try await inventory.read { try $0.footprint() }
            #expect(cached == read, "seed \(seed), step \(step) (kind \(kind))")
            if cached != read { return }
        }
        #expect(try await inventory.read { try $0.footprint() }.count > 0, "seed \(seed) placed nothing")
    }

    @Test func whatTheCacheReadInsideARolledBackTransactionIsReadAgain() async throws {
        let inventory = try await inventory()
        let now = now
        let (a, b, c) = (spec("a"), spec("b"), spec("c"))
        let first = try await inventory.write { tx in try tx.admit(gold([a]), at: now) { _, _ in ["h1"] } }[0]
        // Another connection's commit: the next use reads everything, here after this transaction's own move.
        try await Inventory(path: path).write { tx in _ = try tx.admit(self.gold([b]), at: now) { _, _ in ["h2"] } }
        await #expect(throws: Refused.self) {
            try await inventory.write { tx in
                _ = try tx.move(first.id, to: "h2", at: now)
                #expect(try tx.footprint().footprints(on: "h2").count == 2)
                throw Refused()
            }
        }
        #expect(try await inventory.write { try $0.footprint() } == inventory.read { try $0.footprint() })
        // The same inside a savepoint, with the cache already loaded.
        let inside = try await inventory.write { tx in
            _ = try? tx.isolated {
                _ = try tx.updateDesired(first.id, at: now) { _ in .destroyed }
                _ = try tx.admit(self.gold([c]), at: now) { _, _ in ["h1"] }
                #expect(try tx.footprint().footprints(on: "h1").map(\.vee) != [first.id])
                throw Refused()
            }
            return try tx.footprint()
        }
        #expect(inside.footprints(on: "h1").map(\.vee) == [first.id])
        #expect(try await inventory.write { try $0.footprint() } == inventory.read { try $0.footprint() })
    }

    @Test func onlyServiceVEEsKeepAMetricHistory() async throws {
        let inventory = try await inventory()
        let now = now
        let (lone, replica) = (Admission(spec: spec("lone"), slaClass: "Gold"),
                               Admission(spec: spec("shop-C1-1"), slaClass: "Gold", service: "shop", component: "C1"))
        let views = try await inventory.write { tx in try tx.admit([lone, replica], at: now) { _, _ in ["h1", "h1"] } }
        let kept = try await inventory.write { tx in
            let footprint = try tx.footprint()
            for view in views {
                try tx.recordSamples(vee: view.id, source: "metric", values: ["cpu.load": 0.5], at: now,
                                     history: footprint.isInService(view.id))
            }
            return try tx.history(of: "cpu.load", vees: views.map(\.id), since: now.addingTimeInterval(-1))
        }
        #expect(kept[views[0].id, default: []].isEmpty)
        #expect(kept[views[1].id] == [0.5])
        // Both keep their latest value.
        let latest = try await inventory.read { try $0.monitoring(vee: nil) }
        #expect(latest.map { $0.metrics["cpu.load"] } == [0.5, 0.5])
    }

    @Test func hostsReserveWhatTheirLiveVEEsTake() async throws {
        let inventory = try await inventory()
        let now = now
        let (a, b) = (spec("a", cpus: 2), spec("b", cpus: 1))
        let views = try await inventory.write { tx in try tx.admit(gold([a, b]), at: now) { _, _ in ["h1", "h2"] } }
        try await inventory.write { tx in
            _ = try tx.move(views[1].id, to: "h1", at: now)
            _ = try tx.updateDesired(views[0].id, at: now) { _ in .destroyed }
        }
        let hosts = try await inventory.write { try $0.hosts() }
        #expect(hosts.map(\.allocated.cpus) == [1, 0])
        #expect(try await inventory.write { try $0.footprint() }.footprints(on: "h1").map(\.vee) == [views[1].id])
    }
}

import Foundation
import Manifest
import Testing

@Suite struct ElasticityTests {
    let manifest = try! ManifestParser.parse("""
        service: s
        components:
          C1: {image: tiny, kpis: [RequestPerSecond], replicas: {initial: 1, min: 1, max: 4}}
          C3: {image: tiny, replicas: {initial: 1, min: 1, max: 10}}
        rules:
          - {rule: Replicas(C1) = RequestPerSecond(C1) / 500, cooldown: 30s, tolerance: 0.2}
          - Load(C1) = RequestPerSecond(C1)
          - Load(C3) = 3 * Load(C1)
          - Replicas(C3) = Load(C3) / 1500
        """).get()
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    func decide(rps: Double?, replicas: [String: Int], lastAction: Date? = nil) -> [Elasticity.Decision] {
        let due = manifest.rules.filter { if case .replicas = $0.statement { true } else { false } }
        return Elasticity.decide(manifest, rules: due, inputs: Elasticity.Inputs(
            measured: { name, _, _ in name == "RequestPerSecond" ? rps : 0 },
            replicas: { replicas[$0] ?? 0 }, lastAction: { _ in lastAction }), now: now)
    }

    @Test func rulesScaleWithinBoundsAndDerivedKPIsFollow() {
        let up = decide(rps: 2000, replicas: ["C1": 1, "C3": 1])
        #expect(up.map(\.component) == ["C1", "C3"])
        #expect(up.map(\.to) == [4, 4])
        #expect(up[1].explanation.contains("Load(C3)=6000"))
        // Clamped to max.
        #expect(decide(rps: 10_000, replicas: ["C1": 1, "C3": 1]).map(\.to) == [4, 10])
        // And to min.
        #expect(decide(rps: 0, replicas: ["C1": 4, "C3": 4]).map(\.to) == [1, 1])
    }

    @Test func noSampleInTheWindowIsNoDataNotZero() {
        // A probe that went quiet (or a window that saw none of its pushes) scales nothing down, directly or
        // through a derived KPI.
        #expect(decide(rps: nil, replicas: ["C1": 4, "C3": 4]).isEmpty)
    }

    @Test func toleranceAndCooldownHoldActionsBack() {
        // 1.1 replicas' worth is within 20 % of 1: no action for C1 (C3's rule has the default 10 %).
        #expect(!decide(rps: 550, replicas: ["C1": 1, "C3": 2]).contains { $0.component == "C1" })
        #expect(decide(rps: 2000, replicas: ["C1": 1, "C3": 4], lastAction: now.addingTimeInterval(-10)).isEmpty)
        #expect(decide(rps: 2000, replicas: ["C1": 1, "C3": 4], lastAction: now.addingTimeInterval(-31)).count == 1)
    }

    @Test func cpuRulesResizeWithinTheSpecLimits() throws {
        let manifest = try ManifestParser.parse("""
            service: s
            components:
              C1: {image: tiny, kpis: [Users]}
            rules:
              - {rule: CPU(C1) = Users(C1) / 1000, tolerance: 0}
            """).get()
        func decide(users: Double, cpus: Int) -> [Elasticity.Decision] {
            Elasticity.decide(manifest, rules: manifest.rules, inputs: Elasticity.Inputs(
                measured: { _, _, _ in users }, replicas: { _ in 1 }, lastAction: { _ in nil }, cpus: { _ in cpus }),
                now: now)
        }
        let grow = decide(users: 2500, cpus: 1)
        #expect(grow.map(\.resource) == [.cpus] && grow.map(\.to) == [3])
        #expect(decide(users: 0, cpus: 3).map(\.to) == [1])
        #expect(decide(users: 3000, cpus: 3).isEmpty)
    }

    @Test(arguments: [(ServiceManifest.Aggregate.avg, 2.5), (.max, 4), (.min, 1), (.sum, 10), (.p95, 4)])
    func aggregates(how: ServiceManifest.Aggregate, expected: Double) {
        #expect(Elasticity.aggregate([1, 2, 3, 4], how) == expected)
        #expect(Elasticity.aggregate([], how) == nil)
    }
}

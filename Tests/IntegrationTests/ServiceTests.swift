import Foundation
import Hypervisor
import Inventory
import Testing
import VeemClient
import VeemTestSupport
import VMI

/// Service manifests end to end: real broker, agents on libvirt's test driver, elasticity from pushed KPIs.
@Suite struct ServiceTests {
    static let manifest = """
        service: shop
        components:
          C1:
            memoryMiB: 64
            diskGiB: 0
            image: tiny
            replicas: {initial: 1, min: 1, max: 4}
            kpis: [RequestPerSecond]
            dependsOn: [C3]
          C3:
            memoryMiB: 64
            diskGiB: 0
            image: tiny
            replicas: {initial: 1, min: 1, max: 4}
        rules:
          - {rule: Replicas(C1) = RequestPerSecond(C1) / 500, period: 0.5s, cooldown: 6s, window: 1s, tolerance: 0}
          - Load(C1) = RequestPerSecond(C1)
          - Load(C3) = 3 * Load(C1)
          - {rule: Replicas(C3) = Load(C3) / 1500, period: 0.5s, cooldown: 6s, window: 1s, tolerance: 0}
        sla:
          - SLA(C1) = Gold
        """

    @Test func pushedKPIsScaleAServiceUpAndDownInStep() async throws {
        try await withSite { site in
            let driver = try await LibvirtDriver.open(uri: try TestNode.uri(cpus: 32, memoryMiB: 16384),
                                                      diskDirectory: NSTemporaryDirectory() + "veem-it-disks")
            let host = uniqueHost()
            try await site.startCoordinatorAndAgent(host, driver: driver)
            let client = site.client!
            // Every event with its time, to check order and cooldown.
            let log = EventLog()
            let reader = Task { for await message in site.watcher.events { await log.append(message) } }
            defer { reader.cancel() }

            let submitted = try await client.submitService(manifest: Self.manifest)
            #expect(submitted.state == .deploying)
            #expect(submitted.components.map(\.name) == ["C3", "C1"])
            #expect(try await site.watcher.wait(forService: "shop", toReach: [.active, .failed]) == .active)
            // Deployment order: C3 was ACTIVE before C1 was asked to start.
            let events = await log.siteEvents
            let c3Active = try #require(events.firstIndex { $0.message == "shop-C3-1 is ACTIVE" })
            let c1Booting = try #require(events.firstIndex { $0.message.hasPrefix("shop-C1-1 is ") && $0.state == .active })
            #expect(c3Active < c1Booting)

            // A probe for the whole of C1 (a load balancer) reports its request rate every 200 ms.
            let rate = RateProbe(client: client, target: "shop/C1", kpi: "RequestPerSecond", value: 2000)
            let probe = Task { await rate.run() }
            defer { probe.cancel() }
            // 60 s: six test-driver VEEs take a second on an idle machine, far longer beside the whole suite.
            #expect(try await eventually(timeout: .seconds(60)) {
                try await Self.activeReplicas(client) == ["C1": 4, "C3": 4]
            })
            await rate.set(100)
            #expect(try await eventually(timeout: .seconds(60)) {
                try await Self.activeReplicas(client) == ["C1": 1, "C3": 1]
            })
            // Per rule: up in one step, then down to 1, each decision at least a cooldown after the one before.
            // (Down is one step when the rate falls before the cooldown ends; on a loaded machine the replicas may
            // boot after it has, and the 1 s window then mixes both rates for one decision: 4 → 3 → 1.)
            let scaled = await log.scaled
            for rule in ["shop/Replicas(C1)", "shop/Replicas(C3)"] {
                let steps = scaled.filter { $0.1.message.hasPrefix(rule) }
                #expect(steps.first?.1.message.hasSuffix("1 → 4 replicas") == true, "\(rule): \(steps.map(\.1.message))")
                #expect(steps.last?.1.message.hasSuffix("→ 1 replicas") == true, "\(rule): \(steps.map(\.1.message))")
                #expect((2...3).contains(steps.count), "\(rule): \(steps.map(\.1.message))")
                // Without the cooldown (6 s) a step would follow ~1.5 s after the one before (the window, then a
                // period). Event times are when the coordinator sent them, after each commit, which on a loaded
                // machine lags the decision by up to a second: allow 1.5 s.
                for (before, after) in zip(steps, steps.dropFirst()) {
                    #expect(after.0.timeIntervalSince(before.0) >= 4.5, "\(rule): \(after.1.message)")
                }
            }
            #expect(scaled.first { $0.1.message.hasPrefix("shop/Replicas(C3)") }?.1.message.contains("Load(C3)=6000")
                == true)
            // The decisions are kept in the inventory's event log too.
            let kept = try Inventory(readingOnly: site.databasePath)
            let logged = try await kept.read { try $0.events(limit: 1000) }.filter { $0.kind == .serviceScaled }
            #expect(logged.map(\.message) == scaled.map(\.1.message))
            probe.cancel()

            // Undeploy: everything destroyed, C1 before C3.
            _ = try await client.undeploy(service: "shop")
            #expect(try await site.watcher.wait(forService: "shop", toReach: [.undeployed]) == .undeployed)
            #expect(try await driver.ownedDomains(host: host).isEmpty)
            let after = await log.siteEvents
            let lastC1 = try #require(after.lastIndex { $0.message.hasPrefix("shop-C1") && $0.state == .destroyed })
            let lastC3 = try #require(after.lastIndex { $0.message.hasPrefix("shop-C3") && $0.state == .destroyed })
            #expect(lastC1 < lastC3)
        }
    }

    @Test func aBadManifestIsRefusedWithLocationsAndChangesNothing() async throws {
        try await withSite { site in
            try await site.startCoordinatorAndAgent(uniqueHost(), driver: try await sharedTestDriver())
            do {
                _ = try await site.client.submitService(manifest: """
                    service: broken
                    components:
                      C1: {image: tiny, replicas: {min: 2, max: 1}}
                    rules:
                      - Replicas(C1) = Nope(C1) / 0
                    """)
                Issue.record("accepted")
            } catch VeemClientError.refused(let errors) {
                #expect(errors.compactMap(\.field).contains("manifest:3:31"))
                #expect(errors.contains { $0.message.contains("division by zero") })
                #expect(errors.contains { $0.message.contains("no KPI 'Nope'") })
            }
            do {
                _ = try await site.client.submitService(manifest: """
                    service: huge
                    components:
                      C1: {image: tiny, cpus: 200, replicas: 1}
                    """)
                Issue.record("accepted")
            } catch VeemClientError.refused(let errors) {
                #expect(errors.first?.message.contains("can hold one C1 replica") == true)
            }
            #expect(try await site.client.services().isEmpty)
            #expect(try await site.client.site().vees.isEmpty)
        }
    }

    @Test func aCPURuleResizesReplicasAtTheirNextActivation() async throws {
        try await withSite { site in
            let driver = try await LibvirtDriver.open(uri: try TestNode.uri(cpus: 32, memoryMiB: 16384),
                                                      diskDirectory: NSTemporaryDirectory() + "veem-it-disks")
            try await site.startCoordinatorAndAgent(uniqueHost(), driver: driver)
            let client = site.client!
            _ = try await client.submitService(manifest: """
                service: app
                components:
                  C1: {memoryMiB: 64, diskGiB: 0, image: tiny, kpis: [Users]}
                rules:
                  - {rule: CPU(C1) = Users(C1) / 1000, period: 0.5s, cooldown: 2s, window: 2s, tolerance: 0}
                """)
            #expect(try await site.watcher.wait(forService: "app", toReach: [.active, .failed]) == .active)
            let replica = try #require(try await client.services("app").first?.components.first?.replicas.first)
            #expect(replica.spec.cpus == 1)
            let users = RateProbe(client: client, target: "app/C1", kpi: "Users", value: 3000)
            let probe = Task { await users.run() }
            defer { probe.cancel() }
            // Recorded at once on the replica and its domain…
            #expect(try await eventually {
                try await client.site().vees.first { $0.id == replica.id }?.spec.cpus == 3
            })
            #expect(try await eventually { try await driver.record(of: replica.id)?.spec.cpus == 3 })
            #expect(try await driver.configuredCPUs(replica.id) == 1)
            // …and booted with at the next cold start.
            try await site.change(replica, .shutdown)
            try await site.change(replica, .activate)
            #expect(try await driver.configuredCPUs(replica.id) == 3)
            #expect(site.watcher.seen.contains { $0.kind == .serviceScaled && $0.message.contains("1 → 3 CPUs") })
        }
    }

    @Test func aScaleNoHostHasRoomForIsShownWithItsReasonAndFilledWhenRoomAppears() async throws {
        try await withSite { site in
            let small = try await LibvirtDriver.open(uri: try TestNode.uri(cpus: 4, memoryMiB: 4096),
                                                     diskDirectory: NSTemporaryDirectory() + "veem-it-disks")
            try await site.startCoordinatorAndAgent(uniqueHost(), driver: small)
            let client = site.client!
            _ = try await client.submitService(manifest: """
                service: big
                components:
                  C1: {memoryMiB: 1536, diskGiB: 0, image: tiny, replicas: {initial: 2, min: 1, max: 3}}
                """)
            #expect(try await site.watcher.wait(forService: "big", toReach: [.active, .failed]) == .active)
            _ = try await client.scale(service: "big", component: "C1", replicas: 3)
            // Said once as an event, and kept on the component, with the reason.
            let isShort: @Sendable (SiteEvent) -> Bool = { $0.kind == .serviceShortfall && $0.service == "big" }
            let short = try await site.watcher.wait(timeout: .seconds(15), what: "a shortfall",
                                                    satisfied: { $0.last(where: isShort) }, matching: isShort)
            #expect(short.message.contains("big/C1 has 2 of 3 replicas") && short.message.contains("big-C1-3"),
                    "\(short.message)")
            let component = try #require(try await client.services("big").first?.components.first)
            #expect(component.shortfall?.contains("2 of 3 replicas") == true, "\(String(describing: component.shortfall))")
            #expect(component.replicas.count == 2)
            // A second host: the missing replica is placed there, and the shortfall is over.
            let more = try await LibvirtDriver.open(uri: try TestNode.uri(cpus: 4, memoryMiB: 4096),
                                                    diskDirectory: NSTemporaryDirectory() + "veem-it-disks")
            try await site.startAgent(uniqueHost(), driver: more)
            let isFilled: @Sendable (SiteEvent) -> Bool = {
                $0.kind == .serviceShortfall && $0.message.contains("has its 3 replicas again")
            }
            let filled = try await site.watcher.wait(timeout: .seconds(15), what: "the shortfall over",
                                                     satisfied: { $0.last(where: isFilled) }, matching: isFilled)
            #expect(filled.service == "big")
            #expect(try await eventually {
                let component = try await client.services("big").first?.components.first
                return component?.shortfall == nil && component?.replicas.filter { $0.observed == .active }.count == 3
            })
            #expect(site.watcher.seen.filter { $0.kind == .serviceShortfall }.count == 2, "said once each")
        }
    }

    static func activeReplicas(_ client: VeemClient) async throws -> [String: Int] {
        let service = try await client.services("shop").first
        return Dictionary(uniqueKeysWithValues: (service?.components ?? []).map { component in
            (component.name,
             component.replicas.filter { $0.observed == .active && $0.desired == .active }.count
                == component.replicas.count ? component.replicas.count : -1)
        })
    }
}

/// A probe inside the service: pushes its KPI's current value every 200 ms, as a real one would.
actor RateProbe {
    let client: VeemClient
    let target: String
    let kpi: String
    var value: Double

    init(client: VeemClient, target: String, kpi: String, value: Double) {
        self.client = client
        self.target = target
        self.kpi = kpi
        self.value = value
    }

    func set(_ value: Double) { self.value = value }

    func run() async {
        while !Task.isCancelled {
            try? await client.put(kpis: [kpi: value], for: target)
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
}

actor EventLog {
    private(set) var all: [(Date, SiteEvent)] = []

    func append(_ message: Message) {
        if let event = message.body as? SiteEvent { all.append((message.header.sentAt, event)) }
    }

    var siteEvents: [SiteEvent] { all.map(\.1) }
    var scaled: [(Date, SiteEvent)] { all.filter { $0.1.kind == .serviceScaled } }
}

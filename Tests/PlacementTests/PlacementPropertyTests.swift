import Placement
import PropertyTesting
import Testing
import VMI

/// Random sites and requests, and the invariants every plan must keep.
@Suite struct PlacementPropertyTests {
    static let groups = ["g1", "g2", "g3"]

    func site(_ g: inout Generator) -> [PlacementHost] {
        (0..<g.int(1...12)).map { index in
            // Some hosts already carry lone VEEs, as sums per class.
            let reserved = g.bool(0.3) ? [Reservation(slaClass: g.bool() ? .gold : .bronze,
                                                      resources: Resources(cpus: g.int(1...2), memoryMiB: 512, diskGiB: 1))]
                : []
            return PlacementHost(id: "h\(index)", group: g.pick(Self.groups), up: g.bool(0.85),
                                 capacity: Resources(cpus: g.int(2...16), memoryMiB: g.int(1...16) * 1024, diskGiB: 200),
                                 images: g.bool(0.9) ? ["tiny"] : ["other"], load: Double(g.int(0...100)) / 100,
                                 reserved: reserved)
        }
    }

    func request(_ g: inout Generator) -> [PlacementItem] {
        let components = (0..<g.int(1...4)).map { "svc/C\($0)" }
        return (0..<g.int(1...10)).map { index in
            let gold = g.bool()
            return PlacementItem(
                name: "v\(index)", resources: Resources(cpus: g.int(1...4), memoryMiB: g.int(1...4) * 512, diskGiB: 1),
                image: g.bool(0.95) ? "tiny" : "missing", slaClass: gold ? .gold : .bronze,
                allowedGroups: g.bool(0.3) ? Set([g.pick(Self.groups)]) : nil, spreadKey: g.pick(components))
        }
    }

    /// Runs `check` on many random cases, placing several requests in turn on one evolving snapshot.
    func forAll(_ check: ([PlacementHost], [PlacementItem], Result<PlacementPlan, PlacementFailure>,
                          Scheduler.State, Scheduler.State) -> Void) {
        for seed in 1...400 {
            var g = Generator(state: UInt64(seed))
            let hosts = site(&g)
            let scheduler = Scheduler(weigher: g.pick(Weigher.allCases))
            var state = Scheduler.State(hosts)
            for _ in 0..<g.int(1...6) {
                let items = request(&g)
                let before = state
                let result = scheduler.place(items, in: &state)
                check(hosts, items, result, before, state)
            }
        }
    }

    @Test func noHostIsEverFilledBeyondCapacityTimesTheClassOvercommit() {
        forAll { _, _, _, _, after in
            for host in after.hosts {
                let taken = host.residents.map { ($0.resources, $0.slaClass) } + host.reserved.map { ($0.resources, $0.slaClass) }
                let cpu = taken.reduce(0.0) { $0 + Double($1.0.cpus) / $1.1.cpuOvercommit }
                let memory = taken.reduce(0) { $0 + $1.0.memoryMiB }
                #expect(cpu <= Double(host.capacity.cpus) + 1e-9, "\(host.id)")
                #expect(memory <= host.capacity.memoryMiB, "\(host.id)")
                // Gold alone never exceeds the physical CPUs.
                let gold = taken.filter { $0.1 == .gold }.reduce(0) { $0 + $1.0.cpus }
                #expect(gold <= host.capacity.cpus)
            }
        }
    }

    @Test func goldReplicasShareAHostOnlyWhenSpreadingIsImpossible() {
        forAll { _, items, result, before, _ in
            guard case .success(let plan) = result else { return }
            // Replay the plan in placement order; at each Gold choice, ask whether another host could have taken
            // the replica without sharing.
            var hosts = before.hosts
            let order = items.indices.sorted {
                (items[$0].slaClass.priority, -$0) > (items[$1].slaClass.priority, -$1)
            }
            for index in order {
                let item = items[index]
                let chosen = hosts.firstIndex { $0.id == plan.hosts[index] }!
                if item.slaClass.spread, let key = item.spreadKey,
                   hosts[chosen].residents.contains(where: { $0.spreadKey == key }) {
                    let alternative = hosts.indices.contains { other in
                        other != chosen && !hosts[other].residents.contains(where: { $0.spreadKey == key })
                            && (item.allowedGroups?.contains(hosts[other].group) ?? true)
                            && Scheduler().place([item], on: [hosts[other]]).isSuccess
                    }
                    #expect(!alternative, "\(item.name) shared a host though \(key) could spread")
                }
                hosts[chosen].residents.append(Resident(vee: item.name, resources: item.resources,
                                                        slaClass: item.slaClass, spreadKey: item.spreadKey))
            }
        }
    }

    @Test func directivesAndHostStateAreAlwaysRespected() {
        forAll { hosts, items, result, _, _ in
            guard case .success(let plan) = result else { return }
            for (item, hostId) in zip(items, plan.hosts) {
                let host = hosts.first { $0.id == hostId }!
                #expect(host.up)
                #expect(host.images.contains(item.image))
                if let groups = item.allowedGroups { #expect(groups.contains(host.group)) }
            }
        }
    }

    @Test func aGangIsPlacedWholeOrNotAtAll() {
        forAll { _, items, result, before, after in
            switch result {
            case .success(let plan):
                #expect(plan.hosts.count == items.count)
                let added = after.hosts.map(\.residents.count).reduce(0, +) - before.hosts.map(\.residents.count).reduce(0, +)
                #expect(added == items.count)
            case .failure(let failure):
                #expect(items.indices.contains(failure.index))
                #expect(!failure.reason.isEmpty)
                #expect(after.hosts == before.hosts, "a failed request changed the snapshot")
            }
        }
    }
}

extension Result {
    var isSuccess: Bool { if case .success = self { true } else { false } }
}

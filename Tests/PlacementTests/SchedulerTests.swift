import Placement
import Testing
import VMI

@Suite struct SchedulerTests {
    func host(_ id: String, cpus: Int = 4, memoryMiB: Int = 4096, group: String = "g1", load: Double = 0,
              residents: [Resident] = []) -> PlacementHost {
        PlacementHost(id: id, group: group, up: true, capacity: Resources(cpus: cpus, memoryMiB: memoryMiB, diskGiB: 100),
                      images: ["tiny"], load: load, residents: residents)
    }

    func item(_ name: String, cpus: Int = 1, memoryMiB: Int = 512, _ slaClass: SLAClass = .bronze,
              groups: Set<String>? = nil, spread: String? = nil) -> PlacementItem {
        PlacementItem(name: name, resources: Resources(cpus: cpus, memoryMiB: memoryMiB, diskGiB: 1), image: "tiny",
                      slaClass: slaClass, allowedGroups: groups, spreadKey: spread)
    }

    @Test func weighersChooseTheirHosts() throws {
        let busy = host("busy", residents: [Resident(vee: "x", resources: Resources(cpus: 2, memoryMiB: 512, diskGiB: 1),
                                                     slaClass: .gold)])
        let idle = host("idle", load: 0.9)
        let calm = host("calm", load: 0.1)
        func choice(_ weigher: Weigher) throws -> String {
            try Scheduler(weigher: weigher).place([item("a")], on: [busy, idle, calm]).get().hosts[0]
        }
        #expect(try choice(.pack) == "busy")
        #expect(try choice(.spread) != "busy")
        #expect(try choice(.loadAware) == "calm")
    }

    @Test func bronzeOvercommitsCPUFourTimesGoldNever() throws {
        let small = [host("h", cpus: 2, memoryMiB: 65536)]
        let bronze = (0..<8).map { item("b\($0)") }
        #expect(Scheduler().place(bronze, on: small).isSuccess)
        #expect(!Scheduler().place(bronze + [item("b8")], on: small).isSuccess)
        #expect(!Scheduler().place([item("g", cpus: 3, .gold)], on: small).isSuccess)
    }

    @Test func goldIsPlacedBeforeBronzeWithinARequest() throws {
        // One host with room for exactly one of them: Gold gets it, so the request fails on the Bronze item.
        let result = Scheduler().place([item("b", cpus: 8), item("g", cpus: 2, .gold)], on: [host("h", cpus: 2)])
        guard case .failure(let failure) = result else { Issue.record("placed"); return }
        #expect(failure.index == 0)
    }

    @Test func goldReplicasSpreadAndShareOnlyWhenTheyMust() throws {
        let hosts = [host("a"), host("b")]
        let three = (0..<3).map { item("r\($0)", .gold, spread: "svc/C1") }
        let plan = try Scheduler().place(three, on: hosts).get()
        #expect(Set(plan.hosts.prefix(2)) == ["a", "b"])
        #expect(plan.hosts.count == 3)
    }

    @Test func deployDirectivesLimitTheGroups() throws {
        let hosts = [host("a", group: "Domain1"), host("b", group: "Domain2")]
        #expect(try Scheduler().place([item("x", groups: ["Domain2"])], on: hosts).get().hosts == ["b"])
        guard case .failure(let failure) = Scheduler().place([item("x", groups: ["Domain9"])], on: hosts) else {
            Issue.record("placed outside its groups"); return
        }
        #expect(failure.reason.contains("Domain9"))
    }

    @Test func goldPreemptsBronzeOnlyWhenAllowedAndNamesTheEvicted() throws {
        let bronze = Resident(vee: "bronze-1", resources: Resources(cpus: 8, memoryMiB: 3584, diskGiB: 1), slaClass: .bronze)
        let full = [host("h", cpus: 2, memoryMiB: 4096, residents: [bronze])]
        let gold = item("gold", cpus: 1, memoryMiB: 1024, .gold)
        #expect(!Scheduler().place([gold], on: full).isSuccess)
        let plan = try Scheduler(allowPreemption: true).place([gold], on: full).get()
        #expect(plan.hosts == ["h"])
        #expect(plan.preempted.map(\.vee) == ["bronze-1"])
        // Bronze never preempts.
        #expect(!Scheduler(allowPreemption: true).place([item("b2", memoryMiB: 1024)], on: full).isSuccess)
    }

    @Test func reservationsTakeRoomUnderTheirClassAndAreNeverPreempted() throws {
        // 7 Bronze CPUs reserved on 2 physical CPUs (4x overcommit) leave room for one more Bronze CPU, no Gold.
        var h = host("h", cpus: 2, memoryMiB: 65536)
        h.reserved = [Reservation(slaClass: .bronze, resources: Resources(cpus: 7, memoryMiB: 1024, diskGiB: 1))]
        #expect(try Scheduler().place([item("b")], on: [h]).get().hosts == ["h"])
        #expect(!Scheduler().place([item("b"), item("b2")], on: [h]).isSuccess)
        #expect(!Scheduler(allowPreemption: true).place([item("g", cpus: 1, .gold)], on: [h]).isSuccess)
        // Listed one by one instead, the same VEEs can be preempted.
        h.reserved = []
        h.residents = [Resident(vee: "r", resources: Resources(cpus: 7, memoryMiB: 1024, diskGiB: 1), slaClass: .bronze)]
        #expect(try Scheduler(allowPreemption: true).place([item("g", cpus: 1, .gold)], on: [h]).get().preempted
            .map(\.vee) == ["r"])
    }

    @Test func reasonsNameWhatIsMissing() {
        let down = PlacementHost(id: "d", group: "g", up: false, capacity: Resources(cpus: 4, memoryMiB: 4096, diskGiB: 10),
                                 images: ["tiny"])
        func reason(_ items: [PlacementItem], _ hosts: [PlacementHost]) -> String {
            if case .failure(let failure) = Scheduler().place(items, on: hosts) { return failure.reason }
            return ""
        }
        #expect(reason([item("x")], [down]).contains("no host is up"))
        #expect(reason([item("x", cpus: 64)], [host("h")]).contains("room for 64 CPUs"))
        var other = item("x")
        other.image = "nope"
        #expect(reason([other], [host("h")]).contains("image 'nope'"))
    }
}

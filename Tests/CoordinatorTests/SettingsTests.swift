@testable import Coordinator
import Daemon
import Placement
import Testing

@Suite struct CoordinatorSettingsTests {
    func configuration(_ values: [String: String]) throws -> CoordinatorConfiguration {
        try CoordinatorConfiguration(settings: Settings(file: nil, environment: values))
    }

    @Test func siteClassesAreReadFromSettings() throws {
        let site = try configuration([
            "VEEM_SLA_CLASSES": "Gold: cpu=1, spread, priority=100, preempt; Silver: cpu=2, memory=1.5, priority=50",
            "VEEM_LONE_VEE_CLASS": "Silver", "VEEM_PREEMPTION": "on", "VEEM_PLACEMENT_WEIGHER": "spread",
        ]).placement
        #expect(site.classes["Silver"] == SLAClass(name: "Silver", cpuOvercommit: 2, memoryOvercommit: 1.5,
                                                   spread: false, priority: 50, mayPreempt: false))
        #expect(site.classes["Gold"]?.mayPreempt == true && site.classes["Gold"]?.spread == true)
        #expect(site.loneVEEClass == "Silver")
        #expect(site.scheduler.allowPreemption && site.scheduler.weigher == .spread)
    }

    @Test func defaultsAreGoldAndBronze() throws {
        let site = try configuration([:]).placement
        #expect(Set(site.classes.keys) == ["Gold", "Bronze"])
        #expect(site.loneVEEClass == "Gold" && !site.scheduler.allowPreemption)
    }

    @Test(arguments: [
        ["VEEM_SLA_CLASSES": "Gold: cpu=0.5"], ["VEEM_SLA_CLASSES": "Gold: fast"], ["VEEM_SLA_CLASSES": ";"],
        ["VEEM_SLA_CLASSES": "Gold; Gold"], ["VEEM_LONE_VEE_CLASS": "Platinum"], ["VEEM_PREEMPTION": "maybe"],
        ["VEEM_PLACEMENT_WEIGHER": "random"], ["VEEM_MISSED_HEARTBEATS": "0"],
        ["VEEM_EC2_IMAGES": "ami-tiny:tiny"], ["VEEM_EC2_IMAGES": "img-0000000000000001a:tiny"],
    ])
    func badSettingsAreRefusedByName(values: [String: String]) {
        do {
            _ = try configuration(values)
            Issue.record("accepted \(values)")
        } catch {
            #expect("\(error)".contains(values.keys.first!))
        }
    }
}

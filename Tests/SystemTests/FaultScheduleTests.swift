import Foundation
import Hypervisor
import Testing
import VeemTestSupport

/// A seeded random schedule of faults against a site of shipped daemons with real TCG guests: kill -9 of the
/// coordinator and the agent, the broker stopped, restarted and its connections closed, libvirtd restarted, the
/// inventory's disk full, domains changed with virsh; each strikes a moment after a client asked for something
/// (deploy, scale, undeploy, a lone VEE's submit or update, RunInstances, TerminateInstances). After every step the
/// site must converge and hold its invariants: each live VEE has its one domain and disk, no domain, disk or
/// console log is left over, every ACTIVE guest booted once, every request was answered or failed clearly, and no
/// daemon ended but those the schedule killed. `VEEM_FAULT_SEED` replays a schedule; `VEEM_FAULT_STEPS` sets its
/// length.
@Suite(.serialized) struct FaultScheduleTests {
    static let environment = ProcessInfo.processInfo.environment
    static let steps = environment["VEEM_FAULT_STEPS"].flatMap { Int($0) } ?? 10

    @Test func aSeededScheduleOfFaultsLeavesTheSiteWhole() async throws {
        let seed = Self.environment["VEEM_FAULT_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...999_999)
        print("fault schedule: seed \(seed) (VEEM_FAULT_SEED=\(seed) replays it), \(Self.steps) steps")
        let tiny = try GuestImage.catalogue(in: TCGGuestTests.imageDirectory)["tiny"]
        try #require(tiny != nil, "run Packaging/build-tiny-guest.sh \(TCGGuestTests.imageDirectory) first")
        let node = try await PrivateBroker.start()
        let libvirtd: PrivateLibvirtd
        do { libvirtd = try await PrivateLibvirtd.start() } catch {
            await node.shutdown()
            throw error
        }
        do {
            try await ShippedSite.with(label: "faults", on: node) { site in
                let rig = try await FaultRig.start(site, node: node, libvirtd: libvirtd)
                do {
                    try await rig.run(seed: seed, steps: Self.steps)
                    await rig.release()
                } catch {
                    await rig.release()
                    throw error
                }
            }
        } catch {
            await libvirtd.shutdown()
            await node.shutdown()
            throw error
        }
        await libvirtd.shutdown()
        await node.shutdown()
    }
}

/// The site under the schedule: one coordinator (its inventory on a 16 MiB tmpfs), one agent on a libvirtd of the
/// test's own, the EC2 gateway, all on a broker node of the test's own.
final class FaultRig: @unchecked Sendable {
    let site: ShippedSite
    let node: PrivateBroker
    let libvirtd: PrivateLibvirtd
    let disk: String
    var aws: [String: String] = [:]
    var endpoint = ""
    var model = FaultSchedule.Model()
    var survived: [String: Int] = [:]
    var answered = 0
    var failedClearly: [String] = []

    static let tinyImage = "ami-0000000000000002b"

    private init(site: ShippedSite, node: PrivateBroker, libvirtd: PrivateLibvirtd) {
        self.site = site
        self.node = node
        self.libvirtd = libvirtd
        disk = site.directory + "/inventory"
    }

    static func start(_ site: ShippedSite, node: PrivateBroker, libvirtd: PrivateLibvirtd) async throws -> FaultRig {
        let rig = FaultRig(site: site, node: node, libvirtd: libvirtd)
        try FileManager.default.createDirectory(atPath: rig.disk, withIntermediateDirectories: true)
        try await InventoryFaultTests.mount(["-t", "tmpfs", "-o", "size=16m", "tmpfs", rig.disk])
        async let coordinator = site.start("veem-coordinator", name: "coordinator", settings: [
            "VEEM_SITE": "site1", "VEEM_DATABASE": rig.disk + "/coordinator.sqlite", "VEEM_HEARTBEAT_SECONDS": "1",
            "VEEM_SHUTDOWN_TIMEOUT_SECONDS": "10", "VEEM_EC2_IMAGES": "\(tinyImage):tiny:tiny-guest",
            // Two cores: the tiny guests idle once booted, so eight vCPUs a core is room enough.
            "VEEM_SLA_CLASSES": "Gold: cpu=8; Bronze: cpu=8",
        ])
        async let agent = site.start("veem-agent", name: "host1", settings: [
            "VEEM_HOST": "host1", "VEEM_LIBVIRT_URI": libvirtd.uri, "VEEM_DOMAIN_TYPE": "qemu",
            "VEEM_IMAGE_DIR": TCGGuestTests.imageDirectory, "VEEM_STATE_DIR": site.directory + "/host1",
            "VEEM_HEARTBEAT_SECONDS": "1", "VEEM_METRICS_SECONDS": "2", "VEEM_BOOT_TIMEOUT_SECONDS": "120",
        ])
        async let gateway = site.start("veem-ec2", name: "ec2", settings: [
            "VEEM_EC2_LISTEN": "127.0.0.1:0", "VEEM_EC2_TIMEOUT_SECONDS": "30",
        ])
        _ = try await (coordinator, agent)
        rig.endpoint = "http://127.0.0.1:\(try ShippedDaemonTests.listeningPort(of: try await gateway))"
        let account = try await site.veemctl("account", "create", "faults")
        func field(_ label: String) throws -> String {
            let line = try #require(account.split(separator: "\n").first { $0.hasPrefix(label) }, "\(account)")
            return String(line.dropFirst(label.count).trimmingCharacters(in: .whitespaces).split(separator: " ")[0])
        }
        rig.aws = ProcessInfo.processInfo.environment.merging([
            "AWS_ACCESS_KEY_ID": try field("access key"), "AWS_SECRET_ACCESS_KEY": try field("secret"),
            "AWS_DEFAULT_REGION": "site1", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        ]) { $1 }
        return rig
    }

    func release() async {
        try? FileManager.default.removeItem(atPath: disk + "/filler")
        _ = try? await site.stop("coordinator")
        if ProcessInfo.processInfo.environment["VEEM_KEEP_TEST_FILES"] != nil {
            _ = try? await ExternalCommand.run("/bin/cp", ["-a", disk, site.directory + "/inventory-kept"])
        }
        try? await InventoryFaultTests.mount(["-l", disk], command: "/usr/bin/umount")
    }

    func run(seed: UInt64, steps: Int) async throws {
        var schedule = FaultSchedule(seed: seed)
        var history: [String] = []
        for number in 1...steps {
            let step = schedule.next(for: model)
            history.append("\(number). \(step)")
            print("fault schedule step \(history.last!)")
            try await perform(step)
            let converged = try await eventually(timeout: .seconds(240)) { try await self.isConverged() }
            let table = try await site.veemctl("vees", "--all", "--timeout", "30")
            let story = history.joined(separator: "\n")
            try #require(converged, "not converged after step \(number):\n\(story)\nmodel: \(model)\n\(table)")
            try await checkInvariants(after: history)
            survived[step.fault.rawValue, default: 0] += 1
        }
        let faults = survived.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
        print("fault schedule seed \(seed): \(steps) faults injected and survived (\(faults)); \(answered) requests "
            + "answered, \(failedClearly.count) failed clearly\(failedClearly.isEmpty ? "" : ": ")"
            + failedClearly.joined(separator: "; "))
    }
}

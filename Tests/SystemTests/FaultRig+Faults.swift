import Foundation
import Hypervisor
import Testing
import VeemTestSupport

/// The faults, and what must hold once the site has settled after each.
extension FaultRig {
    /// Strikes, and brings back what an operator's systemd would (a killed daemon restarts; a broker or libvirtd
    /// comes back).
    func inject(_ fault: FaultSchedule.Fault, target: Row?) async throws {
        switch fault {
        case .killCoordinator:
            try await #require(site.process("coordinator")).kill9()
            try await site.restart("coordinator")
        case .killAgent:
            try await #require(site.process("host1")).kill9()
            try await site.restart("host1")
        case .brokerStopStart:
            try await node.stopApp()
            try await node.startApp()
        case .brokerRestart:
            try await node.restart()
        case .closeConnections:
            try await site.broker.closeAllConnections()
        case .libvirtdRestart:
            try await libvirtd.restart()
        case .inventoryFull:
            // Full for a while, as until an operator makes room; requests meanwhile are refused or wait.
            InventoryFaultTests.fill(disk + "/filler")
            try await Task.sleep(for: .seconds(3))
            try FileManager.default.removeItem(atPath: disk + "/filler")
        case .externalDestroy, .externalUndefine, .externalSuspend:
            guard let target else { return }
            let (name, domain) = (target[0], DomainXML.domainName(target[1]))
            let lone = model.lone[name] != nil
            switch fault {
            case .externalDestroy:
                try await virsh("destroy", domain)
                if lone { model.lone[name] = "DEFINED" }
            case .externalUndefine:
                try await virsh("destroy", domain)
                try await virsh("undefine", domain)
                if lone { model.lone[name] = nil }
            default:
                try await virsh("suspend", domain)
                if lone { model.lone[name] = "PAUSED" }
            }
        }
    }

    private func virsh(_ arguments: String...) async throws {
        let result = try await ExternalCommand.run("/usr/bin/virsh", ["-q", "-c", libvirtd.uri] + arguments)
        guard result.status == 0 else { throw TestSupportError("virsh \(arguments): \(result.output)") }
    }

    /// Every VEE in its desired state, and the site holding exactly what the model says.
    func isConverged() async throws -> Bool {
        let vees = try await liveVEEs()
        guard vees.allSatisfy({ $0[7] == $0[8] }) else { return false }
        let lone = Dictionary(vees.filter { $0[0].hasPrefix("lone") }.map { ($0[0], $0[7]) }) { a, _ in a }
        guard lone == model.lone else { return false }
        guard Set(vees.map { $0[0] }.filter { $0.hasPrefix("i-") }) == model.instances else { return false }
        var replicas: [String: Int] = [:]
        for row in vees where row[0].hasPrefix("svc") {
            replicas[String(row[0].split(separator: "-")[0]), default: 0] += 1
        }
        guard replicas == model.services.filter({ $0.value > 0 }) else { return false }
        let services = VeemctlTable.rows(try await site.veemctl("service", "list", "--timeout", "30"))
        return model.services.keys.allSatisfy { name in services.contains { $0.first == name && $0[1] == "ACTIVE" } }
    }

    /// What must hold after every step, looked at from outside: libvirt's domains, the host's disks and console
    /// logs, the guests' consoles, the daemons' processes.
    func checkInvariants(after history: [String]) async throws {
        let vees = try await liveVEEs()
        let ids = Set(vees.map { $0[1] })
        let context = history.joined(separator: "\n")
        // Exactly one domain for each live VEE (names are unique, so: its domain, and no other).
        let domains = Set(try await libvirtd.domainNames())
        #expect(domains == Set(ids.map(DomainXML.domainName)),
                "domains \(domains.sorted()) for VEEs \(ids.sorted()) after\n\(context)")
        let state = site.directory + "/host1"
        let disks = Set((try? FileManager.default.contentsOfDirectory(atPath: state + "/disks")) ?? [])
        // EC2 instance types without a disk size boot from their image alone.
        let withDisks = Set(vees.filter { $0[5] != "0 GiB" }.map { $0[1] })
        #expect(disks == Set(withDisks.map { "\($0).qcow2" }),
                "disks \(disks.sorted()) for \(withDisks.sorted()) after\n\(context)")
        let consoles = Set((try? FileManager.default.contentsOfDirectory(atPath: state + "/consoles")) ?? [])
        #expect(consoles.isSubset(of: Set(ids.map { "\($0).log" })), "orphan console logs: \(consoles) after\n\(context)")
        // Every ACTIVE guest booted exactly once since its console was last reset: no command ran twice.
        for row in vees where row[8] == "ACTIVE" {
            let console = (try? String(contentsOfFile: "\(state)/consoles/\(row[1]).log", encoding: .utf8)) ?? ""
            let boots = console.components(separatedBy: "VEEM-GUEST-BOOTED").count - 1
            #expect(boots == 1, "\(row[0]) booted \(boots) times after\n\(context)")
        }
        for name in ["coordinator", "host1", "ec2"] {
            let exit = try await #require(site.process(name)).waitForExit(timeout: .zero)
            #expect(exit == nil, "\(name) ended by itself (\(String(describing: exit))) after\n\(context)")
        }
    }
}

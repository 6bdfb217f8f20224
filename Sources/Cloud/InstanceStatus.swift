import EC2
import Foundation
import VMI

/// DescribeInstanceStatus: EC2's two status checks, from what veem knows. The instance check passes once the guest
/// printed its boot marker (ACTIVE), the system check while its host is UP; `aws ec2 wait instance-status-ok` relies
/// on both.
extension CloudCall {
    func describeInstanceStatus() throws -> [EC2XML.Node] {
        let ids = try self.ids("InstanceId", prefix: "i", notFound: "InvalidInstanceID")
        let page = try Page(form, idsGiven: !ids.isEmpty, idName: "InstanceId")
        let includeAll = form.bool("IncludeAllInstances")
        let hostState = Dictionary(try tx.hosts().map { ($0.id, $0.state) }, uniquingKeysWith: { a, _ in a })
        let shown = try filtered(try instances(ids).filter { includeAll || $0.state == .running }, id: \.id, [
            "instance-id": { [$0.id] },
            "instance-state-name": { [$0.state.name] },
            "instance-state-code": { ["\($0.state.code)"] },
            "availability-zone": { [$0.record.zone] },
            "instance-status.status": { [Self.instanceCheck($0).status] },
            "instance-status.reachability": { [Self.instanceCheck($0).detail] },
            "system-status.status": { [Self.systemCheck($0, hostState).status] },
            "system-status.reachability": { [Self.systemCheck($0, hostState).detail] },
        ])
        let (items, next) = page.slice(shown) { Page.key($0.record.launchTime, $0.id) }
        return [.items("instanceStatusSet", items.map { instance in
            let check = Self.instanceCheck(instance)
            let system = Self.systemCheck(instance, hostState)
            return [
                .text("instanceId", instance.id),
                .text("availabilityZone", instance.record.zone),
                .element("instanceState", [.text("code", "\(instance.state.code)"), .text("name", instance.state.name)]),
                Self.statusSummary("instanceStatus", check),
                Self.statusSummary("systemStatus", system),
                .items("eventsSet", []),
            ]
        })] + page.token(next)
    }

    /// A check as EC2 renders it: no details when it does not apply.
    static func statusSummary(_ name: String, _ check: (status: String, detail: String)) -> EC2XML.Node {
        guard check.status != "not-applicable" else { return .element(name, [.text("status", check.status)]) }
        return .element(name, [.text("status", check.status),
                               .items("details", [[.text("name", "reachability"), .text("status", check.detail)]])])
    }

    /// The instance check: `ok`/`passed` once booted, `initializing` while it boots, `impaired`/`failed` when the
    /// host reported a failure, `not-applicable` when it is not running.
    static func instanceCheck(_ instance: Instance) -> (status: String, detail: String) {
        if instance.vee.observed == .failed { return ("impaired", "failed") }
        switch instance.state {
        case .running: return ("ok", "passed")
        case .pending: return ("initializing", "initializing")
        default: return ("not-applicable", "not-applicable")
        }
    }

    /// The system check: the host's heartbeats.
    static func systemCheck(_ instance: Instance, _ hosts: [String: HostState]) -> (status: String, detail: String) {
        guard instance.state == .running || instance.state == .pending else { return ("not-applicable", "not-applicable") }
        return hosts[instance.vee.host] == .up ? ("ok", "passed") : ("impaired", "failed")
    }

    static let statusActions: [String: Action] = [
        "DescribeInstanceStatus": Action(readOnly: true) { try $0.describeInstanceStatus() },
    ]
}

/// GetConsoleOutput: checked here, answered by the agent of the instance's host, which reads the guest's serial
/// console and replies to the gateway itself. An instance whose host is not UP has no console to read: empty output.
extension CloudCall {
    func getConsoleOutput() throws -> [EC2XML.Node] {
        let id = try requiredId("InstanceId", prefix: "i", code: "InvalidInstanceID")
        guard let instance = try instances([id]).first else {
            throw EC2Error.notFound("InvalidInstanceID.NotFound", id, "instance ID")
        }
        let up = try tx.hosts().contains { $0.id == instance.vee.host && $0.state == .up }
        if up, instance.state != .terminated {
            effects.consoleRead = ConsoleRead(vee: instance.vee.id, host: instance.vee.host, instanceId: id)
        }
        return [.text("instanceId", id), .text("timestamp", WireDate.format(now))]
    }

    static let consoleActions: [String: Action] = [
        "GetConsoleOutput": Action(readOnly: true) { try $0.getConsoleOutput() },
    ]
}

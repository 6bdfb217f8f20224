import Foundation
import VMI

/// Plain-text tables for the terminal.
enum Table {
    static func render(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in
            ([header[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func vees(_ vees: [VEEView]) -> String {
        render(["NAME", "ID", "HOST", "CPUS", "MEMORY", "DISK", "IMAGE", "DESIRED", "OBSERVED", "NETWORKS", "ERROR"],
               vees.map { v in
                   [v.spec.name, v.id, v.host, "\(v.spec.cpus)", "\(v.spec.memoryMiB) MiB", "\(v.spec.diskGiB) GiB",
                    v.spec.image, v.desired.rawValue, v.observed.rawValue, interfaces(v), v.lastError ?? ""]
               })
    }

    /// `RED=10.10.0.10/52:54:00:12:34:56` per interface; `-` for none (a cell is never empty).
    static func interfaces(_ vee: VEEView) -> String {
        guard let interfaces = vee.interfaces, !interfaces.isEmpty else { return "-" }
        return interfaces.map { "\($0.network)=\($0.address)/\($0.mac)" }.joined(separator: ",")
    }

    static func networks(_ networks: [NetworkView]) -> String {
        render(["NETWORK", "VNI", "SUBNET", "SPEED", "MEMBERS", "HOSTS"], networks.map { n in
            [n.name, "\(n.vni)", n.subnet, n.bytesPerSecond.map { String(format: "%.0f B/s", $0) } ?? "-",
             "\(n.members)", n.hosts.isEmpty ? "-" : n.hosts.joined(separator: ",")]
        })
    }

    static func services(_ services: [ServiceView]) -> String {
        render(["SERVICE", "STATE", "COMPONENTS (ACTIVE/DESIRED)", "ERROR"], services.map { service in
            [service.name, service.state.rawValue,
             service.components.map { component in
                 "\(component.name) \(component.replicas.filter { $0.observed == .active }.count)/\(component.desiredReplicas)"
             }.joined(separator: ", "),
             service.error ?? service.components.compactMap { c in c.shortfall.map { "\(c.name): \($0)" } }
                 .joined(separator: "; ")]
        })
    }

    static func hosts(_ hosts: [HostView]) -> String {
        render(["HOST", "GROUP", "STATE", "HYPERVISOR", "TYPE", "CPUS (USED)", "MEMORY MiB (USED)", "DISK GiB (USED)",
                "IMAGES", "LAST HEARTBEAT"],
               hosts.map { h in
                   [h.id, h.group ?? "default", h.state.rawValue, h.hypervisor, h.domainType,
                    "\(h.capacity.cpus) (\(h.allocated.cpus))",
                    "\(h.capacity.memoryMiB) (\(h.allocated.memoryMiB))",
                    "\(h.capacity.diskGiB) (\(h.allocated.diskGiB))", h.images.joined(separator: ","),
                    h.lastHeartbeat.map { $0.formatted(.iso8601) } ?? "-"]
               })
    }

    static func monitoring(_ vees: [VEEMonitoring]) -> String {
        render(["VEE", "SOURCE", "METRIC", "VALUE"], vees.flatMap { v in
            v.metrics.sorted { $0.key < $1.key }.map { [v.name, "metric", $0.key, String(format: "%.3f", $0.value)] }
                + v.kpis.sorted { $0.key < $1.key }.map { [v.name, "kpi", $0.key, String(format: "%.3f", $0.value)] }
        })
    }

    static func event(_ message: Message) -> String {
        let time = message.header.sentAt.formatted(.iso8601.time(includingFractionalSeconds: true))
        let detail: String
        switch message.body {
        case let event as SiteEvent:
            detail = "\(event.kind.rawValue) \(event.message)"
        case let report as VEEStateReport:
            detail = "\(report.host) reports \(report.observation.vee) \(report.observation.state.rawValue)"
                + (report.observation.error.map { ": \($0)" } ?? "")
        case let heartbeat as Heartbeat:
            detail = "\(heartbeat.host) #\(heartbeat.sequence), \(heartbeat.runningDomains) domains running"
        default:
            detail = message.header.sender
        }
        return "\(time)  \(message.type.rawValue)  \(detail)"
    }
}

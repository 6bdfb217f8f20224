import Foundation
import VMI

/// A multi-tier service as submitted: components, the rules that size them, SLA classes and deployment directives.
public struct ServiceManifest: Sendable, Equatable {
    public var name: String
    public var components: [Component]
    public var rules: [Rule]
    /// Settings of networks its components join; a network without any gets the site's defaults.
    public var networks: [Network] = []

    /// A LAN of the service: an isolated segment across the hosts of its members.
    public struct Network: Sendable, Equatable {
        public var name: String
        /// Its subnet; nil means one the site allocates.
        public var subnet: IPv4Network?
        public var location: SourceLocation

        /// Large enough for a gateway and a few members, small enough to sweep.
        public static let prefixLengths = 16...29
    }

    /// `SPEED(name)`, in bytes per second; nil when no rule limits the network.
    public func speed(of name: String) -> Double? {
        for rule in rules { if case .speed(name, let rate) = rule.statement { return rate } }
        return nil
    }

    /// The network named `name`'s settings, as written or the defaults.
    public func network(_ name: String) -> Network {
        networks.first { $0.name == name } ?? Network(name: name, subnet: nil, location: SourceLocation(line: 1, column: 1))
    }

    public struct Component: Sendable, Equatable {
        public var name: String
        public var cpus: Int
        public var memoryMiB: Int
        public var diskGiB: Int
        public var image: String
        public var networks: [String]
        public var replicas: ReplicaBounds
        /// KPIs its probes report (PutMonitoringInformation), readable by rules.
        public var kpis: [String]
        /// Components that must be ACTIVE before this one starts.
        public var dependsOn: [String]
        /// `userData`, `keyName` and `publicKeys`: what each replica's guest reads from the metadata service.
        public var context: GuestContext?
        public var location: SourceLocation

        /// The spec of one replica (named by the caller).
        public func spec(named name: String) -> VEESpec {
            VEESpec(name: name, cpus: cpus, memoryMiB: memoryMiB, diskGiB: diskGiB, image: image, networks: networks,
                    context: context)
        }
    }

    public struct ReplicaBounds: Sendable, Equatable {
        public var initial: Int
        public var min: Int
        public var max: Int

        public init(initial: Int, min: Int, max: Int) {
            self.initial = initial
            self.min = min
            self.max = max
        }
    }

    /// A statement with its evaluation settings.
    public struct Rule: Sendable, Equatable {
        public var statement: Statement
        public var text: String
        /// How often the rule is evaluated.
        public var period: Duration
        /// How long after an action on the component the rule stays quiet.
        public var cooldown: Duration
        /// Act only when the target differs from the present value by more than this fraction of it.
        public var tolerance: Double
        /// The time window KPI samples are aggregated over.
        public var window: Duration
        public var aggregate: Aggregate
        public var location: SourceLocation
    }

    public enum Aggregate: String, Sendable, CaseIterable { case avg, max, min, sum, p95 }

    /// KPIs every component has without declaring them: `Replicas` (how many run) and `Load` (CPUs busy, summed
    /// over its replicas, from the hosts' metrics).
    public static let platformKPIs: Set<String> = ["Replicas", "Load"]

    public func component(_ name: String) -> Component? { components.first { $0.name == name } }

    /// The SLA class of a component: its `SLA(C) = …` statement, or `defaultClass`.
    public func slaClass(of component: String, defaultClass: String = "Bronze") -> String {
        for rule in rules { if case .sla(component, let name) = rule.statement { return name } }
        return defaultClass
    }

    /// The host groups a component may be placed in; nil when unrestricted.
    public func deployGroups(of component: String) -> [String]? {
        for rule in rules { if case .deploy(component, let groups) = rule.statement { return groups } }
        return nil
    }

    /// CPUs per replica: a constant `CPU(C) = n` directive, else the component's own `cpus`.
    public func cpus(of component: Component) -> Int {
        for rule in rules {
            if case .cpu(component.name, let expression) = rule.statement, let value = expression.constantValue {
                return max(1, Int(value.rounded(.up)))
            }
        }
        return component.cpus
    }

    /// Components in deployment order: each after everything it depends on (the manifest must be acyclic).
    public var deploymentOrder: [Component] {
        var ordered: [Component] = []
        var placed = Set<String>()
        var remaining = components
        while !remaining.isEmpty {
            let ready = remaining.filter { $0.dependsOn.allSatisfy(placed.contains) }
            guard !ready.isEmpty else { return ordered + remaining }
            ordered += ready
            ready.forEach { placed.insert($0.name) }
            remaining.removeAll { placed.contains($0.name) }
        }
        return ordered
    }
}

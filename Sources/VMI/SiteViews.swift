import Foundation

/// Resources of a host, or an amount of them.
public struct Resources: Codable, Sendable, Equatable {
    public var cpus: Int
    public var memoryMiB: Int
    public var diskGiB: Int

    public init(cpus: Int, memoryMiB: Int, diskGiB: Int) {
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.diskGiB = diskGiB
    }

    public static let zero = Resources(cpus: 0, memoryMiB: 0, diskGiB: 0)

    public static func + (a: Resources, b: Resources) -> Resources {
        Resources(cpus: a.cpus + b.cpus, memoryMiB: a.memoryMiB + b.memoryMiB, diskGiB: a.diskGiB + b.diskGiB)
    }

    public static func - (a: Resources, b: Resources) -> Resources {
        Resources(cpus: a.cpus - b.cpus, memoryMiB: a.memoryMiB - b.memoryMiB, diskGiB: a.diskGiB - b.diskGiB)
    }

    /// Whether `other` fits inside these resources.
    public func covers(_ other: Resources) -> Bool {
        cpus >= other.cpus && memoryMiB >= other.memoryMiB && diskGiB >= other.diskGiB
    }
}

extension VEESpec {
    /// What the VEE reserves on its host.
    public var resources: Resources { Resources(cpus: cpus, memoryMiB: memoryMiB, diskGiB: diskGiB) }
}

/// Whether the coordinator hears from a host.
public enum HostState: String, Codable, Sendable {
    case up = "UP"
    /// Three heartbeats missed.
    case down = "DOWN"
}

/// A host as the site sees it.
public struct HostView: Codable, Sendable, Equatable {
    public var id: String
    public var hypervisor: String
    public var domainType: String
    public var capacity: Resources
    public var allocated: Resources
    public var state: HostState
    public var lastHeartbeat: Date?
    public var images: [String]
    public var group: String?

    public init(id: String, hypervisor: String, domainType: String, capacity: Resources, allocated: Resources,
                state: HostState, lastHeartbeat: Date?, images: [String], group: String? = nil) {
        self.group = group
        self.id = id
        self.hypervisor = hypervisor
        self.domainType = domainType
        self.capacity = capacity
        self.allocated = allocated
        self.state = state
        self.lastHeartbeat = lastHeartbeat
        self.images = images
    }
}

/// A VEE as the site sees it: what was asked (desired) and what its host last reported (observed).
public struct VEEView: Codable, Sendable, Equatable {
    public var id: String
    public var spec: VEESpec
    public var host: String
    public var desired: VEEState
    public var observed: VEEState
    public var lastError: String?
    /// Bumped by every change of `desired`.
    public var generation: Int
    public var updatedAt: Date
    /// Its SLA class, and the service and component it is a replica of (absent for a lone VEE).
    public var slaClass: String?
    public var service: String?
    public var component: String?
    /// How many reboots were asked for it (RebootInstances); absent from older coordinators.
    public var reboots: Int?
    /// Its interfaces on its networks (address, MAC); absent when it has none.
    public var interfaces: [VEEInterface]?

    public init(id: String, spec: VEESpec, host: String, desired: VEEState, observed: VEEState,
                lastError: String? = nil, generation: Int = 1, updatedAt: Date, slaClass: String? = nil,
                service: String? = nil, component: String? = nil, reboots: Int? = nil,
                interfaces: [VEEInterface]? = nil) {
        self.reboots = reboots
        self.interfaces = interfaces
        self.slaClass = slaClass
        self.service = service
        self.component = component
        self.id = id
        self.spec = spec
        self.host = host
        self.desired = desired
        self.observed = observed
        self.lastError = lastError
        self.generation = generation
        self.updatedAt = updatedAt
    }
}

import VMI

/// A VEE already on a host, as placement sees it.
public struct Resident: Sendable, Equatable {
    public var vee: String
    public var resources: Resources
    public var slaClass: SLAClass
    /// Replicas sharing a key (service/component) are spread when their class asks for it.
    public var spreadKey: String?

    public init(vee: String, resources: Resources, slaClass: SLAClass, spreadKey: String? = nil) {
        self.vee = vee
        self.resources = resources
        self.slaClass = slaClass
        self.spreadKey = spreadKey
    }
}

/// What residents a snapshot does not list one by one take on a host, in one class. Placement needs only their
/// sum; they can be neither preempted nor spread away from.
public struct Reservation: Sendable, Equatable {
    public var slaClass: SLAClass
    public var resources: Resources

    public init(slaClass: SLAClass, resources: Resources) {
        self.slaClass = slaClass
        self.resources = resources
    }
}

/// A host in the snapshot placement decides over.
public struct PlacementHost: Sendable, Equatable {
    public var id: String
    /// Its host group (or site), for `Deploy(C) = {…}` directives.
    public var group: String
    public var up: Bool
    public var capacity: Resources
    public var images: Set<String>
    /// Recent CPU load, 0…1 of its capacity, for the load-aware weigher.
    public var load: Double
    public var residents: [Resident]
    /// Residents summed by class instead of listed (a site's lone VEEs, which nothing preempts or spreads).
    public var reserved: [Reservation]

    public init(id: String, group: String, up: Bool, capacity: Resources, images: Set<String>, load: Double = 0,
                residents: [Resident] = [], reserved: [Reservation] = []) {
        self.id = id
        self.group = group
        self.up = up
        self.capacity = capacity
        self.images = images
        self.load = load
        self.residents = residents
        self.reserved = reserved
    }

    /// Physical CPUs, memory and disk that residents and reservations take (each class's overcommit applied).
    var used: (cpu: Double, memory: Double, disk: Int) {
        var used = (cpu: 0.0, memory: 0.0, disk: 0)
        func add(_ resources: Resources, _ slaClass: SLAClass) {
            used.cpu += Double(resources.cpus) / slaClass.cpuOvercommit
            used.memory += Double(resources.memoryMiB) / slaClass.memoryOvercommit
            used.disk += resources.diskGiB
        }
        residents.forEach { add($0.resources, $0.slaClass) }
        reserved.forEach { add($0.resources, $0.slaClass) }
        return used
    }
}

/// One VEE to place.
public struct PlacementItem: Sendable, Equatable {
    public var name: String
    public var resources: Resources
    public var image: String
    public var slaClass: SLAClass
    /// nil: any group.
    public var allowedGroups: Set<String>?
    public var spreadKey: String?

    public init(name: String, resources: Resources, image: String, slaClass: SLAClass,
                allowedGroups: Set<String>? = nil, spreadKey: String? = nil) {
        self.name = name
        self.resources = resources
        self.image = image
        self.slaClass = slaClass
        self.allowedGroups = allowedGroups
        self.spreadKey = spreadKey
    }
}

/// How hosts that pass the filters are ranked.
public enum Weigher: String, Sendable, CaseIterable {
    /// Best fit: the host with the least free CPU that holds the item (fewer hosts busy).
    case pack
    /// The host with the most free CPU.
    case spread
    /// Prefer hosts whose recent CPU load is lowest.
    case loadAware = "load-aware"
}

/// Where each item goes, and what had to make room.
public struct PlacementPlan: Sendable, Equatable {
    /// Host id per item, in the request's order.
    public var hosts: [String]
    /// Residents evicted to make room (rescheduled or reported by the caller, never silently lost).
    public var preempted: [Resident]
}

/// Why a request cannot be placed, naming the item that does not fit.
public struct PlacementFailure: Error, Sendable, Equatable {
    /// Index of the item in the request.
    public var index: Int
    public var reason: String
}

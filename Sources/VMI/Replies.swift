import Foundation

/// The VEEs a request created or changed, as the site now sees them.
public struct VEEsAccepted: VMIBody, Equatable {
    public static let messageType = MessageType.veesAccepted
    public var vees: [VEEView]
    public init(vees: [VEEView]) { self.vees = vees }
}

/// A refusal: nothing was changed.
public struct ErrorReply: VMIBody, Equatable {
    public static let messageType = MessageType.errorReply
    /// All problems found; the first is the main one.
    public var errors: [VMIError]
    public init(errors: [VMIError]) { self.errors = errors }
    public init(_ error: VMIError) { self.errors = [error] }
}

/// One VEE's latest samples: platform metrics from its host and KPIs from probes.
public struct VEEMonitoring: Codable, Sendable, Equatable {
    public var vee: String
    public var name: String
    public var metrics: [String: Double]
    public var kpis: [String: Double]
    public var updatedAt: Date?
    public init(vee: String, name: String, metrics: [String: Double], kpis: [String: Double], updatedAt: Date?) {
        self.vee = vee
        self.name = name
        self.metrics = metrics
        self.kpis = kpis
        self.updatedAt = updatedAt
    }
}

public struct MonitoringReport: VMIBody, Equatable {
    public static let messageType = MessageType.monitoringReport
    public var vees: [VEEMonitoring]
    public init(vees: [VEEMonitoring]) { self.vees = vees }
}

public struct SiteReport: VMIBody, Equatable {
    public static let messageType = MessageType.siteReport
    public var site: String
    public var hosts: [HostView]
    public var vees: [VEEView]
    public init(site: String, hosts: [HostView], vees: [VEEView]) {
        self.site = site
        self.hosts = hosts
        self.vees = vees
    }
}

/// Something the site did or noticed, for anyone watching (`veemctl watch`).
public struct SiteEvent: VMIBody, Equatable {
    public static let messageType = MessageType.siteEvent
    public enum Kind: String, Codable, Sendable {
        case veePlaced = "VEE_PLACED"
        case veeStateChanged = "VEE_STATE_CHANGED"
        case veeFailed = "VEE_FAILED"
        case hostUp = "HOST_UP"
        case hostDown = "HOST_DOWN"
        case serviceStateChanged = "SERVICE_STATE_CHANGED"
        /// A higher class took its room: moved to another host, or destroyed when none had room.
        case veePreempted = "VEE_PREEMPTED"
        /// An elasticity rule (or a manual scale) changed a component's replica count; `message` has the inputs.
        case serviceScaled = "SERVICE_SCALED"
        /// A component cannot have all its desired replicas (`message` says why), or has them again.
        case serviceShortfall = "SERVICE_SHORTFALL"
        /// A VEE's domain changed outside veem (virsh, the guest itself); `message` says what veem did about it.
        case veeChangedOutside = "VEE_CHANGED_OUTSIDE"
    }
    public var service: String?
    /// With SERVICE_STATE_CHANGED: the state the service entered.
    public var serviceState: ServiceState?
    public var kind: Kind
    public var host: String?
    public var vee: String?
    public var state: VEEState?
    public var message: String
    /// When it happened, for events read back from the inventory (live events carry their envelope's time).
    public var at: Date?
    public init(kind: Kind, host: String? = nil, vee: String? = nil, state: VEEState? = nil, message: String,
                service: String? = nil, serviceState: ServiceState? = nil, at: Date? = nil) {
        self.at = at
        self.service = service
        self.serviceState = serviceState
        self.kind = kind
        self.host = host
        self.vee = vee
        self.state = state
        self.message = message
    }
}

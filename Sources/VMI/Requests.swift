import Foundation

/// Defines one VEE (the seed's first step: placed on a host and defined there, not running).
public struct InitializeVEE: VMIBody, Equatable {
    public static let messageType = MessageType.initializeVEE
    public var vee: VEESpec
    public init(vee: VEESpec) { self.vee = vee }
}

/// Defines several VEEs at once; all are placed, or none is.
public struct SubmitVEEs: VMIBody, Equatable {
    public static let messageType = MessageType.submitVEEs
    public var vees: [VEESpec]
    public init(vees: [VEESpec]) { self.vees = vees }
}

/// Changes a VEE's control state.
public struct VEEUpdate: VMIBody, Equatable {
    public static let messageType = MessageType.veeUpdate
    /// The VEE's id or its name.
    public var vee: String
    public var action: VEEAction
    public init(vee: String, action: VEEAction) {
        self.vee = vee
        self.action = action
    }
}

/// Asks for the latest monitoring data of one VEE (by id or name), or of all.
public struct MonitoringInformation: VMIBody, Equatable {
    public static let messageType = MessageType.monitoringInformation
    public var vee: String?
    public init(vee: String? = nil) { self.vee = vee }
}

/// KPIs pushed by a probe inside a service (or by any AMQP client) about one VEE.
public struct PutMonitoringInformation: VMIBody, Equatable {
    public static let messageType = MessageType.putMonitoringInformation
    /// The VEE's id or name.
    public var vee: String
    public var kpis: [String: Double]
    /// When the values were measured; the coordinator uses its receive time when absent.
    public var measuredAt: Date?
    public init(vee: String, kpis: [String: Double], measuredAt: Date? = nil) {
        self.vee = vee
        self.kpis = kpis
        self.measuredAt = measuredAt
    }
}

/// Asks for the site's hosts and VEEs.
public struct SiteMonitoringInformation: VMIBody, Equatable {
    public static let messageType = MessageType.siteMonitoringInformation
    public init() {}
}

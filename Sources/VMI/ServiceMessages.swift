import Foundation

/// Where a service is in its life.
public enum ServiceState: String, Codable, Sendable {
    /// Components are being started in dependency order.
    case deploying = "DEPLOYING"
    /// Every component runs its desired number of ACTIVE replicas.
    case active = "ACTIVE"
    /// A replica failed while deploying; `error` says which and why.
    case failed = "FAILED"
    /// Components are being destroyed in reverse dependency order.
    case undeploying = "UNDEPLOYING"
    case undeployed = "UNDEPLOYED"
}

/// A component as the site sees it.
public struct ComponentView: Codable, Sendable, Equatable {
    public var name: String
    public var slaClass: String
    public var desiredReplicas: Int
    public var minReplicas: Int
    public var maxReplicas: Int
    public var replicas: [VEEView]
    /// Why it has fewer replicas than desired (no host has room, say); absent when it has them all.
    public var shortfall: String?

    public init(name: String, slaClass: String, desiredReplicas: Int, minReplicas: Int, maxReplicas: Int,
                replicas: [VEEView], shortfall: String? = nil) {
        self.shortfall = shortfall
        self.name = name
        self.slaClass = slaClass
        self.desiredReplicas = desiredReplicas
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.replicas = replicas
    }
}

public struct ServiceView: Codable, Sendable, Equatable {
    public var name: String
    public var state: ServiceState
    public var error: String?
    /// In deployment order.
    public var components: [ComponentView]
    /// Its networks; absent from older coordinators.
    public var networks: [NetworkView]?

    public init(name: String, state: ServiceState, error: String?, components: [ComponentView],
                networks: [NetworkView]? = nil) {
        self.networks = networks
        self.name = name
        self.state = state
        self.error = error
        self.components = components
    }
}

/// Deploys a service from its manifest (YAML or JSON text, see docs/manifest.md).
public struct SubmitService: VMIBody, Equatable {
    public static let messageType = MessageType.submitService
    public var manifest: String
    public init(manifest: String) { self.manifest = manifest }
}

/// Sets a component's replica count by hand (within its min and max).
public struct ScaleService: VMIBody, Equatable {
    public static let messageType = MessageType.scaleService
    public var service: String
    public var component: String
    public var replicas: Int
    public init(service: String, component: String, replicas: Int) {
        self.service = service
        self.component = component
        self.replicas = replicas
    }
}

/// Destroys a service's VEEs in reverse dependency order.
public struct UndeployService: VMIBody, Equatable {
    public static let messageType = MessageType.undeployService
    public var service: String
    public init(service: String) { self.service = service }
}

/// Asks for one service, or all.
public struct ServiceInformation: VMIBody, Equatable {
    public static let messageType = MessageType.serviceInformation
    public var service: String?
    public init(service: String? = nil) { self.service = service }
}

public struct ServiceReport: VMIBody, Equatable {
    public static let messageType = MessageType.serviceReport
    public var services: [ServiceView]
    public init(services: [ServiceView]) { self.services = services }
}

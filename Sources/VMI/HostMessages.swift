import Foundation

/// A VEE as its host has it, reported at registration and after every change.
public struct VEEObservation: Codable, Sendable, Equatable {
    public var vee: String
    public var state: VEEState
    /// Why the host could not reach the desired state, when it could not.
    public var error: String?
    /// True when the change came from inside the guest or the hypervisor (the guest powered itself off), not from a
    /// command. The coordinator then takes the new state as desired.
    public var spontaneous: Bool?
    public init(vee: String, state: VEEState, error: String? = nil, spontaneous: Bool? = nil) {
        self.vee = vee
        self.state = state
        self.error = error
        self.spontaneous = spontaneous
    }
}

/// Sent by an agent when it starts (and again when the coordinator asks): who it is and what it has.
public struct HostRegistration: VMIBody, Equatable {
    public static let messageType = MessageType.hostRegistration
    public var host: String
    /// libvirt driver and version, e.g. `QEMU 7.2.0`.
    public var hypervisor: String
    /// The libvirt domain type this host really boots (`kvm`, or `qemu` for TCG; `test` for the test driver).
    public var domainType: String
    public var capacity: Resources
    public var images: [String]
    /// Every VEE this agent owns, with its observed state: the coordinator converges from this.
    public var vees: [VEEObservation]
    /// The host group (for `Deploy(C) = {…}` directives); absent means "default".
    public var group: String?
    /// Where other hosts reach this one's VXLAN segments; absent when the host wires no networks.
    public var underlay: String?
    public init(host: String, hypervisor: String, domainType: String, capacity: Resources, images: [String],
                vees: [VEEObservation], group: String? = nil, underlay: String? = nil) {
        self.group = group
        self.underlay = underlay
        self.host = host
        self.hypervisor = hypervisor
        self.domainType = domainType
        self.capacity = capacity
        self.images = images
        self.vees = vees
    }
}

public struct Heartbeat: VMIBody, Equatable {
    public static let messageType = MessageType.heartbeat
    public var host: String
    public var sequence: UInt64
    /// Domains running on the host (owned by veem or not).
    public var runningDomains: Int
    public init(host: String, sequence: UInt64, runningDomains: Int) {
        self.host = host
        self.sequence = sequence
        self.runningDomains = runningDomains
    }
}

/// A VEE's observed state changed on its host.
public struct VEEStateReport: VMIBody, Equatable {
    public static let messageType = MessageType.veeStateReport
    public var host: String
    public var observation: VEEObservation
    public init(host: String, observation: VEEObservation) {
        self.host = host
        self.observation = observation
    }
}

/// Platform metrics of the VEEs on one host, from `virConnectGetAllDomainStats`.
public struct VEEMetrics: VMIBody, Equatable {
    public static let messageType = MessageType.veeMetrics
    public var host: String
    /// VEE id → metric name → value (`cpu.load` as a fraction of the VEE's CPUs, `memory.actualKiB`, …).
    public var samples: [String: [String: Double]]
    public init(host: String, samples: [String: [String: Double]]) {
        self.host = host
        self.samples = samples
    }
}

/// Asks an agent to send its HostRegistration again: the coordinator heard from a host its inventory lacks.
public struct RegistrationRequest: VMIBody, Equatable {
    public static let messageType = MessageType.registrationRequest
    public var host: String
    public init(host: String) { self.host = host }
}

/// Tells an agent what one VEE should be. Level-triggered: the agent does whatever brings the VEE from what libvirt
/// has to `desired`, so repeating it is harmless.
public struct ConvergeVEE: VMIBody, Equatable {
    public static let messageType = MessageType.convergeVEE
    public var vee: String
    public var spec: VEESpec
    public var desired: VEEState
    /// Bumped by every change of `desired`; the agent records it with the domain.
    public var generation: Int
    /// Seconds a graceful shutdown may take before the VEE is powered off.
    public var shutdownTimeout: Double
    /// How many reboots were asked for: a running VEE whose domain records fewer reboots once (ACPI, then a reset
    /// after `shutdownTimeout`). Absent means none.
    public var reboots: Int?
    /// Its interfaces, one per network of the spec, as the coordinator allocated them. Absent means none.
    public var interfaces: [VEEInterface]?
    public init(vee: String, spec: VEESpec, desired: VEEState, generation: Int, shutdownTimeout: Double = 60,
                reboots: Int? = nil, interfaces: [VEEInterface]? = nil) {
        self.reboots = reboots
        self.interfaces = interfaces
        self.vee = vee
        self.spec = spec
        self.desired = desired
        self.generation = generation
        self.shutdownTimeout = shutdownTimeout
    }
}

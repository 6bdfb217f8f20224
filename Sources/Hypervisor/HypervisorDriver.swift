import Foundation
import VMI

/// What libvirt says of a domain.
public enum DomainStatus: Sendable, Equatable {
    case running
    case paused
    /// Powered off; `managedSave` when a SUSPEND image waits to be restored.
    case shutoff(managedSave: Bool)
    case shuttingDown
    case crashed
}

/// A domain this host's agent owns (it carries veem's metadata for this host).
public struct OwnedDomain: Sendable, Equatable {
    public var vee: String
    public var status: DomainStatus
    /// What the agent was last told, as recorded on the domain.
    public var record: DomainRecord
}

/// What the agent records on each domain it owns, so that after a restart it knows what it was told.
public struct DomainRecord: Sendable, Equatable {
    public var vee: String
    public var host: String
    public var spec: VEESpec
    public var desired: VEEState
    public var generation: Int
    /// The reboots carried out (or under way) on the domain, of those asked for.
    public var reboots: Int
    /// Its interfaces as the coordinator allocated them: after a restart the host's networks are rebuilt from these.
    public var interfaces: [VEEInterface]

    public init(vee: String, host: String, spec: VEESpec, desired: VEEState, generation: Int, reboots: Int = 0,
                interfaces: [VEEInterface] = []) {
        self.reboots = reboots
        self.interfaces = interfaces
        self.vee = vee
        self.host = host
        self.spec = spec
        self.desired = desired
        self.generation = generation
    }
}

/// The hypervisor's facts about its host.
public struct HostFacts: Sendable, Equatable {
    /// `QEMU`, `Test`, …
    public var driver: String
    public var version: String
    /// Domain types libvirt offers for x86_64 hvm guests (`kvm`, `qemu`, `test`).
    public var domainTypes: [String]
    public var cpus: Int
    public var memoryMiB: Int
}

/// A lifecycle change libvirt announced.
public struct DomainEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case defined, undefined, started, suspended, resumed, stopped, shutdown, pmsuspended, crashed, other(Int32)
        /// Not a domain's event: the connection to the hypervisor was lost and is back (`uuid` is empty). Events
        /// in between were missed, so every domain is worth a look.
        case reconnected
    }
    /// The domain's UUID (a VEE id for domains veem owns).
    public var uuid: String
    public var kind: Kind
    public var detail: Int32
}

/// The hypervisor contract the agent relies on. Each operation is synchronous in effect: when it returns, libvirt has
/// done it (or it threw and left the domain as it was, except where noted).
public protocol HypervisorDriver: Sendable {
    func hostFacts() async throws -> HostFacts
    /// Domains carrying veem's metadata for `host`; every other domain is left alone.
    func ownedDomains(host: String) async throws -> [OwnedDomain]
    /// The status of one VEE's domain, or nil when it has none.
    func status(of vee: String) async throws -> DomainStatus?
    /// Defines (or redefines, while shut off) the domain from `xml`.
    func define(xml: String) async throws
    /// Status and record of a VEE's domain in one call; nil when it has no domain.
    func inspect(_ vee: String) async throws -> (status: DomainStatus, record: DomainRecord?)?
    /// The record on a VEE's domain; nil when there is no domain or it carries none.
    func record(of vee: String) async throws -> DomainRecord?
    /// Replaces the record on an existing domain (live and persistent).
    func setRecord(_ record: DomainRecord) async throws
    /// Boots, or restores from a managed save.
    func start(_ vee: String) async throws
    func pause(_ vee: String) async throws
    func resume(_ vee: String) async throws
    /// SUSPEND: saves memory to disk and stops the domain.
    func managedSave(_ vee: String) async throws
    /// Asks the guest to power off (ACPI); returns at once.
    func requestShutdown(_ vee: String) async throws
    /// Powers off at once.
    func powerOff(_ vee: String) async throws
    /// Asks the guest to reboot (ACPI); returns at once.
    func reboot(_ vee: String) async throws
    /// Resets the guest at once, as the reset button would.
    func reset(_ vee: String) async throws
    /// Undefines the domain with its managed save image; no error when it is already gone.
    func undefine(_ vee: String) async throws
    /// Creates the VEE's disk in the host's pool, of `sizeGiB`, on `backing` when given. Returns its path.
    /// An existing disk of that name is kept (so a repeated define is harmless).
    func ensureDisk(_ vee: String, sizeGiB: Int, backing: String?) async throws -> String
    /// Deletes the VEE's disk; no error when there is none.
    func deleteDisk(_ vee: String) async throws
    /// Per-domain statistics for owned domains that run, keyed by VEE id.
    func statistics() async throws -> [String: [String: Double]]
    func runningDomainCount() async throws -> Int
    /// Lifecycle events, delivered from libvirt's event thread.
    func events() -> AsyncStream<DomainEvent>
}

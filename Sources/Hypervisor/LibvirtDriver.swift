import BlockingIO
import CLibvirt
import Foundation
import VMI

/// `HypervisorDriver` on libvirt's C API, for any URI (`qemu:///system`, `test:///default`, …). Every call runs on a
/// dedicated blocking pool, never on Swift's cooperative threads.
public final class LibvirtDriver: HypervisorDriver {
    public let uri: String
    /// Name of the storage pool holding VEE disks.
    public let poolName: String
    let link: LibvirtLink
    let pool: BlockingPool
    private let eventStream: AsyncStream<DomainEvent>

    /// Opens `uri`, makes sure a dir pool for `diskDirectory` exists, and subscribes to lifecycle events.
    /// The pool is named after its directory (`/var/lib/veem/disks` → `veem-var-lib-veem-disks`), so agents with
    /// different directories on one libvirtd never share or repoint a pool.
    public static func open(uri: String, diskDirectory: String, poolName: String? = nil,
                            threads: Int = 4) async throws -> LibvirtDriver {
        let poolName = poolName ?? Self.poolName(for: diskDirectory)
        LibvirtEventLoop.start()
        let pool = BlockingPool(name: "libvirt", threads: threads)
        let (stream, continuation) = AsyncStream.makeStream(of: DomainEvent.self, bufferingPolicy: .unbounded)
        let link = try await pool.run { () throws -> LibvirtLink in
            virSetErrorFunc(nil, silentErrorHandler)
            return try LibvirtLink(uri: uri, sink: EventSink(continuation))
        }
        let driver = LibvirtDriver(uri: uri, poolName: poolName, link: link, pool: pool, events: stream)
        try await pool.run { () throws in try driver.ensurePool(directory: diskDirectory) }
        return driver
    }

    private init(uri: String, poolName: String, link: LibvirtLink, pool: BlockingPool,
                 events: AsyncStream<DomainEvent>) {
        self.uri = uri
        self.poolName = poolName
        self.link = link
        self.pool = pool
        self.eventStream = events
    }

    public func events() -> AsyncStream<DomainEvent> { eventStream }

    /// The live connection, reopened if libvirtd went away. Call on the pool.
    var connection: ConnectionHandle { get throws { try link.current() } }

    /// `veem-` and the directory's path with every character libvirt would not like replaced by '-'.
    public static func poolName(for directory: String) -> String {
        let path = directory.split(separator: "/").joined(separator: "-")
        return "veem-" + String(path.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
    }

    public func hostFacts() async throws -> HostFacts {
        try await pool.run { () throws -> HostFacts in
            let conn = try self.connection.pointer
            var info = virNodeInfo()
            guard virNodeGetInfo(conn, &info) == 0 else { throw HypervisorError.last("virNodeGetInfo") }
            let driver = virConnectGetType(conn).map { String(cString: $0) } ?? "unknown"
            var version: UInt = 0
            virConnectGetVersion(conn, &version)
            guard let raw = virConnectGetCapabilities(conn) else { throw HypervisorError.last("virConnectGetCapabilities") }
            let capabilities = String(cString: raw)
            free(raw)
            let types = ["kvm", "qemu", "test"].filter { capabilities.contains("<domain type='\($0)'") }
            return HostFacts(driver: driver,
                             version: "\(version / 1_000_000).\(version / 1000 % 1000).\(version % 1000)",
                             domainTypes: types, cpus: Int(info.cpus), memoryMiB: Int(info.memory / 1024))
        }
    }

    public func ownedDomains(host: String) async throws -> [OwnedDomain] {
        try await pool.run { () throws -> [OwnedDomain] in
            var list: UnsafeMutablePointer<virDomainPtr?>?
            let count = virConnectListAllDomains(try self.connection.pointer, &list, 0)
            guard count >= 0, let list else { throw HypervisorError.last("virConnectListAllDomains") }
            defer { free(list) }
            let handles = (0..<Int(count)).compactMap { list[$0].map(DomainHandle.init) }
            return handles.compactMap { handle in
                guard let xml = handle.metadata(namespace: DomainXML.namespace),
                      let record = DomainXML.record(fromMetadata: xml), record.host == host,
                      let status = try? handle.status()
                else { return nil }
                return OwnedDomain(vee: record.vee, status: status, record: record)
            }
        }
    }

    public func status(of vee: String) async throws -> DomainStatus? {
        try await pool.run { () throws -> DomainStatus? in
            try self.lookup(vee)?.status()
        }
    }

    public func inspect(_ vee: String) async throws -> (status: DomainStatus, record: DomainRecord?)? {
        try await pool.run { () throws -> (status: DomainStatus, record: DomainRecord?)? in
            guard let domain = try self.lookup(vee) else { return nil }
            return (try domain.status(),
                    domain.metadata(namespace: DomainXML.namespace).flatMap(DomainXML.record(fromMetadata:)))
        }
    }

    public func record(of vee: String) async throws -> DomainRecord? {
        try await pool.run { () throws -> DomainRecord? in
            try self.lookup(vee)?.metadata(namespace: DomainXML.namespace).flatMap(DomainXML.record(fromMetadata:))
        }
    }

    public func define(xml: String) async throws {
        try await pool.run { () throws in
            guard let domain = virDomainDefineXML(try self.connection.pointer, xml) else { throw HypervisorError.last("virDomainDefineXML") }
            virDomainFree(domain)
        }
    }

    public func setRecord(_ record: DomainRecord) async throws {
        let element = DomainXML.metadata(record, prefixed: false)
        try await withDomain(record.vee, "virDomainSetMetadata") { domain in
            var flags = VIR_DOMAIN_AFFECT_CONFIG.rawValue
            if domain.isActive { flags |= VIR_DOMAIN_AFFECT_LIVE.rawValue }
            return virDomainSetMetadata(domain.pointer, Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue), element, "veem",
                                        DomainXML.namespace, flags)
        }
    }

    public func start(_ vee: String) async throws {
        try await withDomain(vee, "virDomainCreate") { virDomainCreate($0.pointer) }
    }

    public func pause(_ vee: String) async throws {
        try await withDomain(vee, "virDomainSuspend") { virDomainSuspend($0.pointer) }
    }

    public func resume(_ vee: String) async throws {
        try await withDomain(vee, "virDomainResume") { virDomainResume($0.pointer) }
    }

    public func managedSave(_ vee: String) async throws {
        try await withDomain(vee, "virDomainManagedSave") { virDomainManagedSave($0.pointer, 0) }
    }

    public func requestShutdown(_ vee: String) async throws {
        try await withDomain(vee, "virDomainShutdown") { virDomainShutdown($0.pointer) }
    }

    public func powerOff(_ vee: String) async throws {
        try await withDomain(vee, "virDomainDestroy") { virDomainDestroy($0.pointer) }
    }

    public func reboot(_ vee: String) async throws {
        try await withDomain(vee, "virDomainReboot") { virDomainReboot($0.pointer, 0) }
    }

    public func reset(_ vee: String) async throws {
        try await withDomain(vee, "virDomainReset") { virDomainReset($0.pointer, 0) }
    }

    public func undefine(_ vee: String) async throws {
        try await pool.run { () throws in
            guard let domain = try self.lookup(vee) else { return }
            let flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE.rawValue | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA.rawValue
            guard virDomainUndefineFlags(domain.pointer, flags) == 0 else { throw HypervisorError.last("virDomainUndefineFlags") }
        }
    }

    /// The vCPUs in the domain's persistent definition (what its next boot gets).
    public func configuredCPUs(_ vee: String) async throws -> Int? {
        try await pool.run { () throws -> Int? in
            guard let domain = try self.lookup(vee) else { return nil }
            let flags = Int32(VIR_DOMAIN_AFFECT_CONFIG.rawValue | VIR_DOMAIN_VCPU_MAXIMUM.rawValue)
            let count = virDomainGetVcpusFlags(domain.pointer, UInt32(flags))
            guard count >= 0 else { throw HypervisorError.last("virDomainGetVcpusFlags") }
            return Int(count)
        }
    }

    public func runningDomainCount() async throws -> Int {
        try await pool.run { () throws -> Int in
            let count = virConnectNumOfDomains(try self.connection.pointer)
            guard count >= 0 else { throw HypervisorError.last("virConnectNumOfDomains") }
            return Int(count)
        }
    }

    /// Looks a VEE's domain up by its UUID; nil when there is none. Call on the pool.
    func lookup(_ vee: String) throws -> DomainHandle? {
        guard let pointer = virDomainLookupByUUIDString(try connection.pointer, vee) else {
            let error = HypervisorError.last("virDomainLookupByUUIDString")
            if error.isNoDomain {
                virResetLastError()
                return nil
            }
            throw error
        }
        return DomainHandle(pointer)
    }

    /// Runs one call on an existing domain; a missing domain is an error here.
    private func withDomain(_ vee: String, _ operation: String,
                            _ call: @escaping @Sendable (DomainHandle) -> Int32) async throws {
        try await pool.run { () throws in
            guard let domain = try self.lookup(vee) else {
                throw HypervisorError(operation: operation, code: Int32(VIR_ERR_NO_DOMAIN.rawValue),
                                      message: "no domain for VEE \(vee)")
            }
            guard call(domain) == 0 else { throw HypervisorError.last(operation) }
        }
    }
}

import CLibvirt
import Foundation

/// VEE disks live as volumes in one dir pool per host.
extension LibvirtDriver {
    func ensurePool(directory: String) throws {
        // A pool whose directory was removed behind libvirt's back still says "running": recreate the directory.
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            try ensurePoolOnce(directory: directory)
        } catch {
            // Another connection may have defined it between our lookup and define: look again.
            virResetLastError()
            try ensurePoolOnce(directory: directory)
        }
    }

    private func ensurePoolOnce(directory: String) throws {
        let conn = try connection.pointer
        if let existing = virStoragePoolLookupByName(conn, poolName) {
            defer { virStoragePoolFree(existing) }
            var info = virStoragePoolInfo()
            if virStoragePoolGetInfo(existing, &info) == 0, info.state != VIR_STORAGE_POOL_RUNNING.rawValue,
               virStoragePoolCreate(existing, 0) != 0, virStoragePoolIsActive(existing) != 1 {
                throw HypervisorError.last("virStoragePoolCreate")
            }
            return
        }
        virResetLastError()
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let xml = "<pool type='dir'><name>\(DomainXML.escape(poolName))</name>"
            + "<target><path>\(DomainXML.escape(directory))</path></target></pool>"
        guard let created = virStoragePoolDefineXML(conn, xml, 0) else { throw HypervisorError.last("virStoragePoolDefineXML") }
        defer { virStoragePoolFree(created) }
        guard virStoragePoolCreate(created, 0) == 0 else { throw HypervisorError.last("virStoragePoolCreate") }
        virStoragePoolSetAutostart(created, 1)
    }

    static func volumeName(_ vee: String) -> String { "\(vee).qcow2" }

    /// Stops and forgets this driver's pool (its volumes stay on disk). For rigs whose disk directory is temporary.
    public func removePool() async throws {
        try await pool.run { () throws in
            guard let storage = virStoragePoolLookupByName(try self.connection.pointer, self.poolName) else {
                virResetLastError()
                return
            }
            defer { virStoragePoolFree(storage) }
            if virStoragePoolIsActive(storage) == 1, virStoragePoolDestroy(storage) != 0 {
                throw HypervisorError.last("virStoragePoolDestroy")
            }
            guard virStoragePoolUndefine(storage) == 0 else { throw HypervisorError.last("virStoragePoolUndefine") }
        }
    }

    public func ensureDisk(_ vee: String, sizeGiB: Int, backing: String?) async throws -> String {
        try await pool.run { () throws -> String in
            guard let storage = virStoragePoolLookupByName(try self.connection.pointer, self.poolName) else {
                throw HypervisorError.last("virStoragePoolLookupByName")
            }
            defer { virStoragePoolFree(storage) }
            let name = Self.volumeName(vee)
            var volume = virStorageVolLookupByName(storage, name)
            if volume == nil {
                virResetLastError()
                var xml = "<volume><name>\(name)</name><capacity unit='GiB'>\(sizeGiB)</capacity>"
                    + "<target><format type='qcow2'/></target>"
                if let backing {
                    xml += "<backingStore><path>\(DomainXML.escape(backing))</path><format type='qcow2'/></backingStore>"
                }
                xml += "</volume>"
                volume = virStorageVolCreateXML(storage, xml, 0)
                guard volume != nil else { throw HypervisorError.last("virStorageVolCreateXML") }
            }
            defer { virStorageVolFree(volume) }
            guard let path = virStorageVolGetPath(volume) else { throw HypervisorError.last("virStorageVolGetPath") }
            defer { free(path) }
            return String(cString: path)
        }
    }

    public func deleteDisk(_ vee: String) async throws {
        try await withVolume(of: vee) { volume in
            guard let volume else { return }
            guard virStorageVolDelete(volume, 0) == 0 else { throw HypervisorError.last("virStorageVolDelete") }
        }
    }

    /// Whether the VEE has a disk in the pool.
    public func hasDisk(_ vee: String) async throws -> Bool {
        try await withVolume(of: vee) { $0 != nil }
    }

    /// Runs `body` on the pool's thread with the VEE's volume, or nil when it has none.
    private func withVolume<T: Sendable>(of vee: String,
                                         _ body: @escaping @Sendable (virStorageVolPtr?) throws -> T) async throws -> T {
        try await pool.run { () throws -> T in
            guard let storage = virStoragePoolLookupByName(try self.connection.pointer, self.poolName) else {
                throw HypervisorError.last("virStoragePoolLookupByName")
            }
            defer { virStoragePoolFree(storage) }
            guard let volume = virStorageVolLookupByName(storage, Self.volumeName(vee)) else {
                virResetLastError()
                return try body(nil)
            }
            defer { virStorageVolFree(volume) }
            return try body(volume)
        }
    }
}

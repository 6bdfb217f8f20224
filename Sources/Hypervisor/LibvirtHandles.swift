import CLibvirt

/// Owns a libvirt connection. libvirt documents connections as thread-safe; veem still calls it only from the
/// driver's blocking pool.
final class ConnectionHandle: @unchecked Sendable {
    let pointer: virConnectPtr
    init(_ pointer: virConnectPtr) { self.pointer = pointer }
    deinit { virConnectClose(pointer) }
}

/// Owns one domain reference; freed when the handle goes.
final class DomainHandle {
    let pointer: virDomainPtr
    init(_ pointer: virDomainPtr) { self.pointer = pointer }
    deinit { virDomainFree(pointer) }

    var uuid: String {
        var buffer = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        guard virDomainGetUUIDString(pointer, &buffer) == 0 else { return "" }
        return String(cString: buffer, encoding: .utf8) ?? ""
    }

    var isActive: Bool { virDomainIsActive(pointer) == 1 }

    func status() throws -> DomainStatus {
        var state: Int32 = 0
        var reason: Int32 = 0
        guard virDomainGetState(pointer, &state, &reason, 0) == 0 else { throw HypervisorError.last("virDomainGetState") }
        switch UInt32(state) {
        case VIR_DOMAIN_RUNNING.rawValue, VIR_DOMAIN_BLOCKED.rawValue: return .running
        case VIR_DOMAIN_PAUSED.rawValue, VIR_DOMAIN_PMSUSPENDED.rawValue: return .paused
        case VIR_DOMAIN_SHUTDOWN.rawValue: return .shuttingDown
        case VIR_DOMAIN_CRASHED.rawValue: return .crashed
        default: return .shutoff(managedSave: virDomainHasManagedSaveImage(pointer, 0) == 1)
        }
    }

    /// veem's metadata element, or nil when the domain has none.
    func metadata(namespace: String) -> String? {
        guard let raw = virDomainGetMetadata(pointer, Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue), namespace, 0) else {
            virResetLastError()
            return nil
        }
        defer { free(raw) }
        return String(cString: raw)
    }
}

/// Collects lifecycle events from libvirt's event thread into an AsyncStream.
final class EventSink: @unchecked Sendable {
    let continuation: AsyncStream<DomainEvent>.Continuation
    init(_ continuation: AsyncStream<DomainEvent>.Continuation) { self.continuation = continuation }
}

/// The C callback: no captures allowed, so the sink arrives through `opaque`.
let lifecycleCallback: veem_lifecycle_cb = { _, domain, event, detail, opaque in
    guard let domain, let opaque else { return }
    let sink = Unmanaged<EventSink>.fromOpaque(opaque).takeUnretainedValue()
    var buffer = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
    guard virDomainGetUUIDString(domain, &buffer) == 0 else { return }
    let kind: DomainEvent.Kind
    switch UInt32(event) {
    case VIR_DOMAIN_EVENT_DEFINED.rawValue: kind = .defined
    case VIR_DOMAIN_EVENT_UNDEFINED.rawValue: kind = .undefined
    case VIR_DOMAIN_EVENT_STARTED.rawValue: kind = .started
    case VIR_DOMAIN_EVENT_SUSPENDED.rawValue: kind = .suspended
    case VIR_DOMAIN_EVENT_RESUMED.rawValue: kind = .resumed
    case VIR_DOMAIN_EVENT_STOPPED.rawValue: kind = .stopped
    case VIR_DOMAIN_EVENT_SHUTDOWN.rawValue: kind = .shutdown
    case VIR_DOMAIN_EVENT_PMSUSPENDED.rawValue: kind = .pmsuspended
    case VIR_DOMAIN_EVENT_CRASHED.rawValue: kind = .crashed
    default: kind = .other(event)
    }
    sink.continuation.yield(DomainEvent(uuid: String(cString: buffer, encoding: .utf8) ?? "", kind: kind, detail: detail))
}

/// Drops one registration's reference; the stream ends with the driver (`LibvirtLink`), not with a connection.
let releaseEventSink: virFreeCallback = { opaque in
    guard let opaque else { return }
    Unmanaged<EventSink>.fromOpaque(opaque).release()
}

/// Swallows libvirt's default error printing; errors are read and reported by the caller instead.
let silentErrorHandler: virErrorFunc = { _, _ in }

import CLibvirt
import Foundation

/// The driver's connection to libvirtd, opened again when libvirtd went away (a restart, an upgrade, a crash).
/// Guests keep running while libvirtd is away; only the agent's view of them pauses. On every new connection the
/// lifecycle callback is registered again, and a `.reconnected` event tells the agent to look at every domain it
/// owns, since events that fired while nobody listened are lost.
final class LibvirtLink: @unchecked Sendable {
    let uri: String
    private let sink: EventSink
    private let lock = NSLock()
    private var handle: ConnectionHandle?
    private var lost = false

    /// Opens `uri` (throws if libvirtd cannot be reached now) and subscribes `sink` to lifecycle events.
    init(uri: String, sink: EventSink) throws {
        self.uri = uri
        self.sink = sink
        handle = try open()
    }

    deinit { sink.continuation.finish() }

    /// The live connection, opened anew if the last one died. Call on the driver's pool: it may block in
    /// `virConnectOpen`. Throws an error whose `isConnectionLost` is true while libvirtd cannot be reached.
    func current() throws -> ConnectionHandle {
        try lock.withLock {
            if let handle, virConnectIsAlive(handle.pointer) == 1 { return handle }
            if handle != nil {
                handle = nil
                lost = true
            }
            let opened = try open()
            handle = opened
            if lost {
                lost = false
                sink.continuation.yield(DomainEvent(uuid: "", kind: .reconnected, detail: 0))
            }
            return opened
        }
    }

    private func open() throws -> ConnectionHandle {
        guard let pointer = virConnectOpen(uri) else {
            var error = HypervisorError.last("virConnectOpen(\(uri))")
            error.domain = Int32(VIR_FROM_RPC.rawValue)
            virResetLastError()
            throw error
        }
        let connection = ConnectionHandle(pointer)
        let opaque = Unmanaged.passRetained(sink).toOpaque()
        guard veem_register_lifecycle(pointer, lifecycleCallback, opaque, releaseEventSink) >= 0 else {
            Unmanaged<EventSink>.fromOpaque(opaque).release()
            throw HypervisorError.last("virConnectDomainEventRegisterAny")
        }
        return connection
    }
}

import CLibvirt
import Foundation

/// libvirt's default event loop on a dedicated thread. It must be registered before the first connection is opened,
/// or event callbacks cannot be registered.
enum LibvirtEventLoop {
    /// Idempotent; the first call registers the loop and starts its thread.
    static func start() { _ = started }

    private static let started: Bool = {
        guard virEventRegisterDefaultImpl() == 0 else { return false }
        let thread = Thread {
            while virEventRunDefaultImpl() == 0 {}
        }
        thread.name = "libvirt-events"
        thread.start()
        return true
    }()
}

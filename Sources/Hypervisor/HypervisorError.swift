import CLibvirt

/// A libvirt call failed; `message` is libvirt's own.
public struct HypervisorError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var code: Int32
    public var message: String
    /// libvirt's error domain (`VIR_FROM_*`): where the error arose.
    public var domain: Int32 = 0

    public var description: String { "\(operation): \(message)" }

    /// libvirt's no-such-domain code, which callers often treat as "already gone".
    public var isNoDomain: Bool { code == Int32(VIR_ERR_NO_DOMAIN.rawValue) }

    /// libvirtd could not be reached, or the connection to it broke during the call (its RPC layer failed): the
    /// call may be tried again once libvirtd is back.
    public var isConnectionLost: Bool { domain == Int32(VIR_FROM_RPC.rawValue) }

    /// Reads libvirt's last error for this thread (errors are per-thread, so call on the thread that failed).
    static func last(_ operation: String) -> HypervisorError {
        guard let error = virGetLastError() else {
            return HypervisorError(operation: operation, code: -1, message: "unknown libvirt error")
        }
        return HypervisorError(operation: operation, code: error.pointee.code,
                               message: error.pointee.message.map { String(cString: $0) } ?? "unknown libvirt error",
                               domain: error.pointee.domain)
    }
}

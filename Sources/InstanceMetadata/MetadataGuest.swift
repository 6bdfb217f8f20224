import Foundation
import VMI

/// A VEE as its host's metadata service knows it: who asks (found by the network a request came in on and its
/// source address, which the host's rules pin to the VEE's tap and MAC) and what it may read about itself.
public struct MetadataGuest: Sendable, Equatable {
    /// The VEE's id in the site.
    public var vee: String
    /// Its name: the EC2 instance id for an instance, a replica's name for a service's VEE.
    public var name: String
    /// Its host's group, which EC2 clients see as the availability zone.
    public var zone: String
    public var interfaces: [VEEInterface]
    public var context: GuestContext?

    public init(vee: String, name: String, zone: String, interfaces: [VEEInterface], context: GuestContext?) {
        self.vee = vee
        self.name = name
        self.zone = zone
        self.interfaces = interfaces
        self.context = context
    }

    /// The interface a request arriving on network `vni` from `address` came from.
    public func interface(vni: Int, address: String) -> VEEInterface? {
        interfaces.first { $0.vni == vni && $0.address == address }
    }
}

/// One HTTP request to the metadata service, as the server read it.
public struct MetadataRequest: Sendable {
    public var method: String
    /// The path without its query.
    public var path: String
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: Data

    public init(method: String, path: String, headers: [String: String], body: Data = Data()) {
        self.method = method
        self.path = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
            ?? path
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        self.body = body
    }
}

/// What the service answers.
public struct MetadataResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String] = [:], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    static func text(_ text: String, status: Int = 200) -> MetadataResponse {
        MetadataResponse(status: status, headers: ["Content-Type": "text/plain"], body: Data(text.utf8))
    }
}

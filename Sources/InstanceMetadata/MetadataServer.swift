#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The instance metadata service of one host: an HTTP listener per network, bound to that network's bridge
/// (SO_BINDTODEVICE) at its gateway address. Guests reach it at 169.254.169.254:80, which the host's rules
/// forward to the listener of the bridge the request came in on. Binding to the bridge is what tells networks
/// with the same subnet apart: the request's network is the listener's, and the answer leaves by that bridge.
public actor MetadataServer {
    /// One network's listener.
    public struct Listener: Hashable, Sendable {
        public var vni: Int
        public var device: String
        public var address: String
        public init(vni: Int, device: String, address: String) {
            self.vni = vni
            self.device = device
            self.address = address
        }
    }

    public typealias Lookup = @Sendable (_ vni: Int, _ address: String) async -> MetadataGuest?
    /// Takes a probe's KPIs for a VEE; false when that VEE is posting too fast.
    public typealias Relay = @Sendable (_ vee: String, _ kpis: [String: Double]) async -> Bool

    public let port: Int
    private let responder: MetadataResponder
    private let lookup: Lookup
    private let relay: Relay
    private let logger: Logger
    private var running: [Listener: Task<Void, Never>] = [:]
    private var channels: [Listener: any Channel] = [:]

    static let maxBody = 64 << 10

    public init(port: Int, tokens: MetadataTokens, logger: Logger, lookup: @escaping Lookup,
                relay: @escaping Relay) {
        self.port = port
        responder = MetadataResponder(tokens: tokens)
        self.lookup = lookup
        self.relay = relay
        self.logger = logger
    }

    /// The listeners now open.
    public var listeners: Set<Listener> { Set(channels.keys) }

    /// Opens a listener for each network in `wanted` that has none, and closes those of networks not in it. A
    /// listener that cannot open (its bridge is not there yet) is tried again by the next call.
    public func serve(_ wanted: Set<Listener>) async {
        for gone in Set(running.keys).subtracting(wanted) {
            running.removeValue(forKey: gone)?.cancel()
            try? await channels.removeValue(forKey: gone)?.close()
        }
        for listener in wanted.subtracting(running.keys) {
            do {
                let socket = try Self.boundSocket(device: listener.device, address: listener.address, port: port)
                let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .serverChannelOption(.backlog, value: 128)
                    .bind(socket) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                            return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                                wrappingChannelSynchronously: channel)
                        }
                    }
                channels[listener] = server.channel
                running[listener] = Task { await self.accept(server, listener) }
                logger.debug("metadata listener open", metadata: ["device": "\(listener.device)"])
            } catch {
                logger.warning("metadata listener not opened", metadata: ["device": "\(listener.device)",
                                                                          "error": "\(error)"])
            }
        }
    }

    /// Closes every listener.
    public func stop() async { await serve([]) }

    private nonisolated func accept(
        _ server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>,
        _ listener: Listener
    ) async {
        do {
            try await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        group.addTask { await self.handle(connection, listener) }
                    }
                }
            }
        } catch {
            if !Task.isCancelled {
                logger.warning("metadata listener closed", metadata: ["device": "\(listener.device)",
                                                                      "error": "\(error)"])
            }
        }
    }

    private nonisolated func handle(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>,
                                    _ listener: Listener) async {
        let source = connection.channel.remoteAddress?.ipAddress ?? ""
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let received):
                    head = received
                    body.clear()
                case .body(var chunk):
                    guard body.readableBytes + chunk.readableBytes <= Self.maxBody else {
                        try await Self.write(.text("Payload Too Large\n", status: 413), to: outbound, keepAlive: false)
                        return
                    }
                    body.writeBuffer(&chunk)
                case .end:
                    guard let request = head else { return }
                    let headers = Dictionary(request.headers.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
                    let asked = MetadataRequest(method: request.method.rawValue, path: request.uri, headers: headers,
                                                body: Data(body.readableBytesView))
                    let response = await self.answer(asked, listener: listener, source: source)
                    try await Self.write(request.method == .HEAD ? MetadataResponse(status: response.status,
                                                                                    headers: response.headers)
                                                                 : response,
                                         to: outbound, keepAlive: request.isKeepAlive)
                    if !request.isKeepAlive { return }
                    head = nil
                }
            }
        }
    }

    private nonisolated func answer(_ request: MetadataRequest, listener: Listener, source: String) async
        -> MetadataResponse {
        let guest = await lookup(listener.vni, source)
        switch responder.respond(to: request, from: guest, vni: listener.vni, address: source, now: Date()) {
        case .respond(let response):
            return response
        case .kpis(let kpis):
            guard let guest else { return .text("Forbidden\n", status: 403) }
            return await relay(guest.vee, kpis) ? MetadataResponse(status: 204)
                : .text("Too Many Requests: KPIs are posted faster than they are relayed\n", status: 429)
        }
    }

    private static func write(_ response: MetadataResponse, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
                              keepAlive: Bool) async throws {
        var headers = HTTPHeaders(response.headers.map { ($0.key, $0.value) })
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        headers.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        headers.replaceOrAdd(name: "Server", value: "veem-agent")
        try await outbound.write(.head(HTTPResponseHead(version: .http1_1,
                                                        status: HTTPResponseStatus(statusCode: response.status),
                                                        headers: headers)))
        if !response.body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body)))) }
        try await outbound.write(.end(nil))
    }

    /// A TCP socket bound to `address:port` on `device` only. Sockets on different devices may share an address
    /// and port: that is how networks with the same subnet each get their own.
    static func boundSocket(device: String, address: String, port: Int) throws -> NIOBSDSocket.Handle {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var one: Int32 = 1
        var ok = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) == 0
        ok = ok && device.withCString { setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, $0, socklen_t(strlen($0) + 1)) } == 0
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = in_port_t(UInt16(port)).bigEndian
        ok = ok && inet_pton(AF_INET, address, &socketAddress.sin_addr) == 1
        ok = ok && withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
        guard ok else {
            let code = errno
            close(fd)
            throw IOError(errnoCode: code, reason: "binding \(address):\(port) on \(device)")
        }
        return fd
    }
}

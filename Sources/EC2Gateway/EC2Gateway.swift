import EC2
import Foundation
import Hummingbird
import Logging
import Messaging
import ServiceLifecycle
import Synchronization
import VMI
import VeemClient

/// `veem-ec2`: the EC2 Query API over HTTP. It keeps no state: each call's signature is prepared here (the clock-skew
/// window, the string to sign over the raw body) and the call goes to the coordinator, which checks the signature
/// against the account's secret, runs the action and renders the answer. Several gateways can run side by side.
public final class EC2Gateway: Service {
    public let configuration: GatewayConfiguration
    let client: VeemClient
    let logger: Logger
    let onListening: @Sendable (Int) -> Void
    /// Whether the client's reply queue is up: until the site's exchanges exist, calls get 503 at once.
    let connected = Mutex(false)

    public init(configuration: GatewayConfiguration, client: VeemClient,
                logger: Logger = Logger(label: "veem.ec2"), onListening: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.configuration = configuration
        self.client = client
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let router = Router()
        router.post("/") { request, _ in try await self.respond(request) }
        router.get("/") { request, _ in try await self.respond(request) }
        let onListening = self.onListening
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                 serverName: "veem-ec2"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        // Listening (and READY) does not wait for the site: a gateway may start before any coordinator has run.
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await app.run() }
            do {
                try await cancelWhenGracefulShutdown { try await self.client.start(waitForSite: true) }
                connected.withLock { $0 = true }
            } catch is CancellationError {
                return
            }
        }
    }

    func respond(_ request: Request) async throws -> Response {
        let requestId = RandomID.uuid()
        guard connected.withLock({ $0 }) else {
            return Self.render(EC2Error("Unavailable", "The site is not set up yet (no coordinator has run); try again",
                                        status: 503), requestId)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: configuration.maxBodyBytes)
        } catch {
            return Self.render(EC2Error("RequestEntityTooLarge", "The request body is larger than "
                + "\(configuration.maxBodyBytes) bytes", status: 413), requestId)
        }
        let bytes = Array(body.readableBytesView)
        var headers = request.headers.map { (name: $0.name.rawName, value: $0.value) }
        // HTTP types keep Host as the request's authority, not among the fields; clients sign it as `host`.
        if let authority = request.head.authority { headers.append(("host", authority)) }
        let signed = SignedRequest(method: request.method.rawValue, path: request.uri.path,
                                   query: request.uri.query ?? "", headers: headers, body: bytes)
        do {
            let signature = try SigV4.proof(signed, service: "ec2", now: Date(), skew: configuration.clockSkew)
            // EC2 takes parameters from the query string or a form body; the body wins.
            var parameters = QueryForm(signed.query).values
            parameters.merge(QueryForm(String(decoding: bytes, as: UTF8.self)).values) { _, body in body }
            let call = EC2Request(action: parameters["Action"] ?? "", parameters: parameters, signature: signature,
                                  requestId: requestId)
            let reply = try VMI.open(try await client.requestRaw(call, timeout: configuration.timeout))
            switch reply.body {
            case let answer as EC2Reply:
                return Self.response(status: answer.status, answer.xml)
            case let refusal as ErrorReply:
                logger.error("coordinator refused an EC2 call", metadata: ["errors": "\(refusal.errors)"])
                return Self.render(EC2Error("InternalError", refusal.errors.map(\.description)
                    .joined(separator: "; "), status: 500), requestId)
            default:
                return Self.render(EC2Error("InternalError", "unexpected \(reply.type.rawValue)", status: 500),
                                   requestId)
            }
        } catch let error as EC2Error {
            return Self.render(error, requestId)
        } catch is VeemClientError, is MessagingError {
            return Self.render(EC2Error("Unavailable", "The site's coordinator did not answer in time; try again",
                                        status: 503), requestId)
        }
    }

    static func render(_ error: EC2Error, _ requestId: String) -> Response {
        response(status: error.status, EC2XML.error(error, requestId: requestId))
    }

    static func response(status: Int, _ xml: String) -> Response {
        Response(status: HTTPResponse.Status(code: status),
                 headers: [.contentType: "text/xml;charset=UTF-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: xml)))
    }
}

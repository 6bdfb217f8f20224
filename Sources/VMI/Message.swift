import Foundation

/// A received message decoded in one pass: the envelope's header and the body its type names.
public struct Message: Sendable {
    public let header: MessageHeader
    public let type: MessageType
    public let body: any VMIBody

    /// The body as `Body`, or a refusal naming the expected and actual types.
    public func body<Body: VMIBody>(as _: Body.Type) throws(VMIError) -> Body {
        guard let body = body as? Body else {
            throw VMIError(code: .unknownMessageType, field: "type",
                           message: "expected \(Body.messageType.rawValue), got \(type.rawValue)")
        }
        return body
    }
}

extension MessageType {
    /// The body type each message type carries.
    public var bodyType: any VMIBody.Type {
        switch self {
        case .initializeVEE: InitializeVEE.self
        case .submitVEEs: SubmitVEEs.self
        case .veeUpdate: VEEUpdate.self
        case .monitoringInformation: MonitoringInformation.self
        case .putMonitoringInformation: PutMonitoringInformation.self
        case .siteMonitoringInformation: SiteMonitoringInformation.self
        case .veesAccepted: VEEsAccepted.self
        case .monitoringReport: MonitoringReport.self
        case .siteReport: SiteReport.self
        case .errorReply: ErrorReply.self
        case .hostRegistration: HostRegistration.self
        case .heartbeat: Heartbeat.self
        case .veeStateReport: VEEStateReport.self
        case .veeMetrics: VEEMetrics.self
        case .convergeVEE: ConvergeVEE.self
        case .siteEvent: SiteEvent.self
        case .submitService: SubmitService.self
        case .scaleService: ScaleService.self
        case .undeployService: UndeployService.self
        case .serviceInformation: ServiceInformation.self
        case .serviceReport: ServiceReport.self
        case .registrationRequest: RegistrationRequest.self
        case .ec2Request: EC2Request.self
        case .ec2Reply: EC2Reply.self
        case .createAccount: CreateAccount.self
        case .accountInformation: AccountInformation.self
        case .accountReport: AccountReport.self
        case .consoleOutputRequest: ConsoleOutputRequest.self
        case .hostNetworks: HostNetworks.self
        case .guestKPIs: GuestKPIs.self
        }
    }
}

/// Decodes header then body from one parse of the document.
struct MessageDecoding: Decodable {
    let message: Message

    enum Keys: String, CodingKey { case v, type, id, correlationId, sentAt, sender, body }

    /// Header problems are thrown as VMIError directly so the caller can tell them from body problems.
    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        let header = MessageHeader(
            v: try container.decode(Int.self, forKey: .v), type: try container.decode(String.self, forKey: .type),
            id: try container.decode(String.self, forKey: .id),
            correlationId: try container.decodeIfPresent(String.self, forKey: .correlationId),
            sentAt: try container.decode(Date.self, forKey: .sentAt),
            sender: try container.decode(String.self, forKey: .sender))
        let type = try VMI.validate(header)
        let body = try type.bodyType.init(from: container.superDecoder(forKey: .body))
        message = Message(header: header, type: type, body: body)
    }
}

extension VMI {
    /// Decodes any message: refuses what is not JSON, lacks envelope fields, has an unknown version or type, or has
    /// a body of the wrong shape, naming the field.
    public static func open(_ bytes: [UInt8]) throws(VMIError) -> Message {
        do {
            return try decoder.decode(MessageDecoding.self, from: Data(bytes)).message
        } catch let error as VMIError {
            throw error
        } catch {
            throw VMIError(code: .malformedMessage, message: "not a valid VMI message: "
                           + describe(error, in: bytes) { _ = try decoder.decode(MessageDecoding.self, from: $0) })
        }
    }

    /// The type named by a header this build can read.
    static func validate(_ header: MessageHeader) throws(VMIError) -> MessageType {
        guard (1...version).contains(header.v) else {
            throw VMIError(code: .unsupportedVersion, field: "v",
                           message: "version \(header.v) is not supported (this build reads 1...\(version))")
        }
        guard let type = MessageType(rawValue: header.type) else {
            throw VMIError(code: .unknownMessageType, field: "type", message: "unknown message type '\(header.type)'")
        }
        return type
    }
}

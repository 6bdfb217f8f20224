import Foundation

/// Every message type on the wire. New types are added; none is ever renamed or removed.
public enum MessageType: String, Codable, Sendable, CaseIterable {
    // Submission and control (requester → coordinator)
    case initializeVEE = "InitializeVEE"
    case submitVEEs = "SubmitVEEs"
    case veeUpdate = "VEEUpdate"
    // Monitoring (requester or probe → coordinator)
    case monitoringInformation = "MonitoringInformation"
    case putMonitoringInformation = "PutMonitoringInformation"
    case siteMonitoringInformation = "SiteMonitoringInformation"
    // Replies (coordinator → requester)
    case veesAccepted = "VEEsAccepted"
    case monitoringReport = "MonitoringReport"
    case siteReport = "SiteReport"
    case errorReply = "ErrorReply"
    // Host reports (agent → coordinator)
    case hostRegistration = "HostRegistration"
    case heartbeat = "Heartbeat"
    case veeStateReport = "VEEStateReport"
    case veeMetrics = "VEEMetrics"
    // Commands (coordinator → agent)
    case convergeVEE = "ConvergeVEE"
    // Site events (coordinator → anyone watching)
    case siteEvent = "SiteEvent"
    // Services (requester → coordinator, and the report back)
    case submitService = "SubmitService"
    case scaleService = "ScaleService"
    case undeployService = "UndeployService"
    case serviceInformation = "ServiceInformation"
    case serviceReport = "ServiceReport"
    // Coordinator → agent: "I do not know you; register again" (after the inventory was lost or replaced).
    case registrationRequest = "RegistrationRequest"
    // The EC2 Query API, forwarded by gateways (gateway → coordinator, and the rendered answer back)
    case ec2Request = "EC2Request"
    case ec2Reply = "EC2Reply"
    // EC2 accounts (operator → coordinator)
    case createAccount = "CreateAccount"
    case accountInformation = "AccountInformation"
    case accountReport = "AccountReport"
    // Coordinator → agent: an EC2 GetConsoleOutput the agent answers straight to the gateway that asked
    case consoleOutputRequest = "ConsoleOutputRequest"
    /// The VXLAN peers of each network a host has members of (coordinator → agent).
    case hostNetworks = "HostNetworks"
    /// KPIs from probes inside guests, through the metadata service (agent → coordinator).
    case guestKPIs = "GuestKPIs"
}

/// A message body: each type has exactly one.
public protocol VMIBody: Codable, Sendable {
    static var messageType: MessageType { get }
}

/// The versioned envelope around every message.
public struct Envelope<Body: VMIBody>: Codable, Sendable {
    /// Schema version. Messages only grow, so a reader accepts its own version and any older one.
    public var v: Int
    public var type: MessageType
    /// Unique per message; receivers use it to make re-deliveries harmless.
    public var id: String
    /// The id of the request this message answers, if it is a reply.
    public var correlationId: String?
    public var sentAt: Date
    /// Who sent it: `veemctl@host`, `agent/<host>`, `coordinator/<site>`.
    public var sender: String
    public var body: Body

    public init(body: Body, sender: String, id: String = RandomID.uuid(),
                correlationId: String? = nil, sentAt: Date = Date()) {
        self.v = VMI.version
        self.type = Body.messageType
        self.id = id
        self.correlationId = correlationId
        self.sentAt = sentAt
        self.sender = sender
        self.body = body
    }
}

/// The envelope without its body: what a receiver reads first to choose the body's type.
public struct MessageHeader: Decodable, Sendable {
    public var v: Int
    public var type: String
    public var id: String
    public var correlationId: String?
    public var sentAt: Date
    public var sender: String
}

public enum VMI {
    /// The schema version this build writes and the newest it reads.
    public static let version = 1

    /// Encodes an envelope as JSON with sorted keys (stable bytes for golden tests and logs).
    public static func encode<Body: VMIBody>(_ envelope: Envelope<Body>) -> [UInt8] {
        // Encoding our own Codable values cannot fail.
        try! Array(encoder.encode(envelope))
    }

    /// Reads the header, refusing what is not JSON, lacks envelope fields, or has an unknown version or type.
    public static func decodeHeader(_ bytes: [UInt8]) throws(VMIError) -> (MessageHeader, MessageType) {
        let header: MessageHeader
        do {
            header = try decoder.decode(MessageHeader.self, from: Data(bytes))
        } catch {
            throw VMIError(code: .malformedMessage, message: "not a VMI envelope: "
                           + describe(error, in: bytes) { _ = try decoder.decode(MessageHeader.self, from: $0) })
        }
        return (header, try validate(header))
    }

    /// Decodes the whole envelope once the header says which body it carries.
    public static func decode<Body: VMIBody>(_: Body.Type, from bytes: [UInt8]) throws(VMIError) -> Envelope<Body> {
        do {
            return try decoder.decode(Envelope<Body>.self, from: Data(bytes))
        } catch {
            throw VMIError(code: .malformedMessage, message: "bad \(Body.messageType.rawValue): "
                           + describe(error, in: bytes) { _ = try decoder.decode(Envelope<Body>.self, from: $0) })
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(WireDate.format(date))
        }
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = WireDate.parse(text) { return date }
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 date: \(text)")
        }
        return decoder
    }()

    /// A decoding error of `bytes` as a sentence naming the field; `decode` repeats the decoding, to find the field
    /// of a number that does not fit (which Foundation reports as invalid JSON, with no field).
    static func describe(_ error: Error, in bytes: [UInt8], decode: (Data) throws -> Void) -> String {
        guard case .dataCorrupted(let context)? = error as? DecodingError, context.codingPath.isEmpty else {
            return describe(error)
        }
        func opaque(_ data: Data) -> Bool {
            do {
                try decode(data)
                return false
            } catch let again as DecodingError {
                if case .dataCorrupted(let context) = again { return context.codingPath.isEmpty }
                return false
            } catch {
                return false
            }
        }
        if let syntax = JSONProblem.syntaxProblem(in: bytes) { return "invalid JSON: \(syntax)" }
        guard let misfit = JSONProblem.locate(in: bytes, fails: opaque) else { return describe(error) }
        return "field '\(misfit.path)': \(misfit.number) does not fit (a whole number within range is expected)"
    }

    /// Decodes a JSON document an operator wrote (a file for `veemctl submit`): a problem names its field, or the
    /// line and column of a syntax error.
    public static func decodeDocument<T: Decodable>(_ type: T.Type, from data: Data) throws(VMIError) -> T {
        do {
            return try decoder.decode(T.self, from: data)
        } catch {
            throw VMIError(code: .malformedMessage,
                           message: describe(error, in: Array(data)) { _ = try decoder.decode(T.self, from: $0) })
        }
    }

    /// A decoding error as a sentence naming the field.
    static func describe(_ error: Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let joined = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return joined.hasPrefix(".") ? String(joined.dropFirst()) : joined
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?:
            let parent = path(context)
            return "missing field '\(parent.isEmpty ? key.stringValue : parent + "." + key.stringValue)'"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            return "field '\(path(context))': \(context.debugDescription)"
        case .dataCorrupted(let context)?:
            return context.codingPath.isEmpty ? "invalid JSON" : "field '\(path(context))': \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }
}

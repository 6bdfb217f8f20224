/// A refusal or failure that travels back to the requester in an `ErrorReply`.
public struct VMIError: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Codable, Sendable {
        case malformedMessage = "MalformedMessage"
        case unsupportedVersion = "UnsupportedVersion"
        case unknownMessageType = "UnknownMessageType"
        case invalidParameter = "InvalidParameter"
        case unknownVEE = "UnknownVEE"
        case unknownService = "UnknownService"
        case duplicateName = "DuplicateName"
        case illegalTransition = "IllegalTransition"
        case insufficientCapacity = "InsufficientCapacity"
        case hypervisorFailure = "HypervisorFailure"
        case timeout = "Timeout"
        case internalError = "InternalError"
        /// The site inventory cannot take writes now (disk full, read-only file): nothing was changed; reads work.
        case inventoryUnavailable = "InventoryUnavailable"
        /// The broker user that sent the request may not send requests of its kind (`VEEM_OPERATOR_USERS`).
        case accessDenied = "AccessDenied"
    }

    public var code: Code
    /// The request field at fault, as a dotted path (`vees[1].memoryMiB`), when one is.
    public var field: String?
    public var message: String

    public init(code: Code, field: String? = nil, message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    public var description: String {
        "\(code.rawValue)" + (field.map { " (\($0))" } ?? "") + ": \(message)"
    }
}

extension VMIError.Code {
    /// A code added after this build reads as `InternalError`, so that an older client still shows the message.
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = Self(rawValue: text) ?? .internalError
    }
}

/// A refusal or failure that travels back to the requester in an `ErrorReply`.
public struct VMIError: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Codable, Sendable {
        case malformedMessage = "MalformedMessage"
        case unsupportedVersion = "UnsupportedVersion"
        case unknownMessageType = "UnknownMessageType"
        case invalidParameter = "InvalidParameter"
        case unknownVEE = "UnknownVEE"
        case duplicateName = "DuplicateName"
        case illegalTransition = "IllegalTransition"
        case insufficientCapacity = "InsufficientCapacity"
        case hypervisorFailure = "HypervisorFailure"
        case timeout = "Timeout"
        case internalError = "InternalError"
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

/// An EC2 API error: the code clients switch on, a message naming what is wrong, and the HTTP status. A client's
/// mistake is always 4xx (botocore retries 5xx).
public struct EC2Error: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var status: Int

    public init(_ code: String, _ message: String, status: Int = 400) {
        self.code = code
        self.message = message
        self.status = status
    }

    public var description: String { "\(code): \(message)" }

    public static func missingParameter(_ name: String) -> EC2Error {
        EC2Error("MissingParameter", "The request must contain the parameter \(name)")
    }

    public static func invalidParameterValue(_ name: String, _ reason: String) -> EC2Error {
        EC2Error("InvalidParameterValue", "Invalid value for parameter \(name): \(reason)")
    }
}

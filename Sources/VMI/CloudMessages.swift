import Foundation

/// A SigV4 signature with the string it claims to sign. The gateway builds it from the HTTP request; the coordinator,
/// which holds the access key's secret, checks it. Secrets never travel.
public struct EC2Signature: Codable, Sendable, Equatable {
    public var accessKey: String
    /// `YYYYMMDD` of the credential scope.
    public var date: String
    public var region: String
    public var service: String
    public var signedHeaders: [String]
    /// Hex, as the client sent it.
    public var signature: String
    public var stringToSign: String

    public init(accessKey: String, date: String, region: String, service: String, signedHeaders: [String],
                signature: String, stringToSign: String) {
        self.accessKey = accessKey
        self.date = date
        self.region = region
        self.service = service
        self.signedHeaders = signedHeaders
        self.signature = signature
        self.stringToSign = stringToSign
    }
}

/// One EC2 Query API call, forwarded by a gateway (gateway → coordinator).
public struct EC2Request: VMIBody, Equatable {
    public static let messageType = MessageType.ec2Request
    /// The form's `Action` (empty when the form had none).
    public var action: String
    /// Every form parameter, `Action` and `Version` included.
    public var parameters: [String: String]
    public var signature: EC2Signature
    /// The request id the gateway answers with, in the XML and its logs.
    public var requestId: String

    public init(action: String, parameters: [String: String], signature: EC2Signature, requestId: String) {
        self.action = action
        self.parameters = parameters
        self.signature = signature
        self.requestId = requestId
    }
}

/// The EC2 answer, rendered: the HTTP status and the XML document (coordinator → gateway).
public struct EC2Reply: VMIBody, Equatable {
    public static let messageType = MessageType.ec2Reply
    public var status: Int
    public var xml: String

    public init(status: Int, xml: String) {
        self.status = status
        self.xml = xml
    }
}

/// Creates an EC2 account with one access key (veemctl → coordinator). With `id`, `accessKey` and `secret` given,
/// imports an existing one; otherwise they are generated.
public struct CreateAccount: VMIBody, Equatable {
    public static let messageType = MessageType.createAccount
    public var name: String
    /// 12 digits.
    public var id: String?
    public var accessKey: String?
    public var secret: String?

    public init(name: String, id: String? = nil, accessKey: String? = nil, secret: String? = nil) {
        self.name = name
        self.id = id
        self.accessKey = accessKey
        self.secret = secret
    }
}

/// Asks for the site's accounts (without secrets).
public struct AccountInformation: VMIBody, Equatable {
    public static let messageType = MessageType.accountInformation
    public init() {}
}

/// An account as shown to operators. `secret` is filled only in the reply to the CreateAccount that made it.
public struct AccountView: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var accessKey: String
    public var secret: String?
    public var createdAt: Date

    public init(id: String, name: String, accessKey: String, secret: String? = nil, createdAt: Date) {
        self.id = id
        self.name = name
        self.accessKey = accessKey
        self.secret = secret
        self.createdAt = createdAt
    }
}

/// The reply to CreateAccount and AccountInformation.
public struct AccountReport: VMIBody, Equatable {
    public static let messageType = MessageType.accountReport
    public var accounts: [AccountView]
    public init(accounts: [AccountView]) { self.accounts = accounts }
}

/// Coordinator → agent: the EC2 GetConsoleOutput of one of the agent's VEEs, checked and authorised by the
/// coordinator. The agent reads the guest's serial console (the latest 64 KiB) and sends the `EC2Reply` to
/// `replyTo` with `correlationId`, so that the console never passes through the coordinator.
public struct ConsoleOutputRequest: VMIBody, Equatable {
    public static let messageType = MessageType.consoleOutputRequest
    public var vee: String
    public var instanceId: String
    /// The EC2 request id the answer carries.
    public var requestId: String
    public var replyTo: String
    public var correlationId: String

    public init(vee: String, instanceId: String, requestId: String, replyTo: String, correlationId: String) {
        self.vee = vee
        self.instanceId = instanceId
        self.requestId = requestId
        self.replyTo = replyTo
        self.correlationId = correlationId
    }
}

import Daemon
import VMI

/// Which broker users may send which requests, judged by the AMQP `user-id` of each request: the broker refuses a
/// publish whose user-id is not the publisher's login, so it names the sender. Operators (`veemctl`) may send every
/// request; gateways only EC2 calls, which the coordinator authenticates by their signatures. Nobody else may send
/// any: agents report on their own keys and never request.
public struct Requesters: Sendable, Equatable {
    public var operators: Set<String>
    public var gateways: Set<String>

    public init(operators: Set<String>, gateways: Set<String> = []) {
        self.operators = operators
        self.gateways = gateways
    }

    /// Reads `VEEM_OPERATOR_USERS` and `VEEM_GATEWAY_USERS` (comma-separated broker users); nil when neither is
    /// set, and then any user the broker lets publish requests may send any (a development site on `guest`).
    public static func from(_ settings: Settings) throws -> Requesters? {
        func users(_ key: String) throws -> Set<String>? {
            guard let text = settings[key] else { return nil }
            let names = text.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard !names.isEmpty, !names.contains(where: \.isEmpty) else {
                throw SettingsError(message: "\(key) must be broker user names separated by commas, got '\(text)'")
            }
            return Set(names)
        }
        let operators = try users("VEEM_OPERATOR_USERS")
        let gateways = try users("VEEM_GATEWAY_USERS")
        guard operators != nil || gateways != nil else { return nil }
        return Requesters(operators: operators ?? [], gateways: gateways ?? [])
    }

    /// Why `user` may not send a request of `type`, or nil if it may.
    public func refusal(of type: MessageType, from user: String?) -> VMIError? {
        guard let user else {
            return VMIError(code: .accessDenied, message: "the request carries no user-id; this site authorises "
                            + "requests by their broker user")
        }
        if operators.contains(user) { return nil }
        if gateways.contains(user) {
            return type == .ec2Request ? nil : VMIError(
                code: .accessDenied, field: "type",
                message: "broker user '\(user)' is a gateway: it may send EC2 calls only, not \(type.rawValue)")
        }
        return VMIError(code: .accessDenied, message: "broker user '\(user)' may not send requests to this site")
    }
}

import Foundation

/// awscli's `aws ec2` against a gateway, as an EC2 user runs it: keys from the environment, no config files, text
/// output.
public struct AWSCLI: Sendable {
    public let endpoint: String
    let environment: [String: String]

    public init(endpoint: String, accessKey: String, secret: String, region: String = "site1") {
        self.endpoint = endpoint
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = accessKey
        environment["AWS_SECRET_ACCESS_KEY"] = secret
        environment["AWS_DEFAULT_REGION"] = region
        environment["AWS_CONFIG_FILE"] = "/dev/null"
        environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
        environment["AWS_EC2_METADATA_DISABLED"] = "true"
        self.environment = environment
    }

    /// Runs `aws ec2 ARGUMENTS…` and returns its trimmed output; a failure throws with it.
    @discardableResult
    public func ec2(_ arguments: String...) async throws -> String {
        let result = try await ExternalCommand.run("/usr/bin/env", ["aws", "--endpoint-url", endpoint,
                                                                   "--output", "text", "ec2"] + arguments,
                                                   environment: environment)
        guard result.status == 0 else { throw TestSupportError("aws ec2 \(arguments): \(result.output)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

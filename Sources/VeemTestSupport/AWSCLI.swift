import Foundation

/// awscli's `aws ec2` against a gateway, as an EC2 user runs it: keys from the environment, no config files, text
/// output.
public struct AWSCLI: Sendable {
    public let endpoint: String
    let environment: [String: String]

    /// What runs `aws` where the gateway listens (a testbed's control node); empty for the root namespace.
    let launcher: [String]

    public init(endpoint: String, accessKey: String, secret: String, region: String = "site1",
                launcher: [String] = []) {
        self.endpoint = endpoint
        self.launcher = launcher
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
    public func ec2(_ arguments: String...) async throws -> String { try await ec2(arguments) }

    @discardableResult
    public func ec2(_ arguments: [String]) async throws -> String {
        let command = launcher + ["/usr/bin/env", "aws", "--endpoint-url", endpoint, "--output", "text", "ec2"]
            + arguments
        let result = try await ExternalCommand.run(command[0], Array(command.dropFirst()), environment: environment)
        guard result.status == 0 else { throw TestSupportError("aws ec2 \(arguments): \(result.output)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

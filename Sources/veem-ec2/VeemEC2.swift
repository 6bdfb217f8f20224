import ArgumentParser
import Daemon
import EC2Gateway
import Foundation
import Logging
import Messaging
import VeemClient

/// The EC2 Query API gateway of a site.
@main
struct VeemEC2: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "veem-ec2",
        abstract: "The EC2-compatible Query API of a veem site (awscli and boto3 work unchanged).")

    @Option(help: "Settings file of VEEM_* lines; the environment overrides it.")
    var config = "/etc/veem/ec2.conf"

    func run() async throws {
        let settings = try Settings(file: config)
        DaemonRunner.bootstrapLogging(level: settings["VEEM_LOG_LEVEL"])
        let logger = Logger(label: "veem.ec2")
        let configuration = try GatewayConfiguration(settings: settings)
        let host = ProcessInfo.processInfo.hostName
        let connection = try await DaemonRunner.connectToBroker(
            settings: settings, connectionName: "veem-ec2/\(host)", logger: logger)
        defer { connection.close() }
        let notifier = SystemdNotifier()
        let gateway = EC2Gateway(configuration: configuration,
                                 client: VeemClient(connection: connection, sender: "veem-ec2@\(host)"),
                                 logger: logger) { port in
            logger.info("listening", metadata: ["address": "\(configuration.host):\(port)"])
            notifier.ready(status: "EC2 API on \(configuration.host):\(port)")
        }
        try await DaemonRunner.run(main: gateway, notifier: notifier, logger: logger)
    }
}

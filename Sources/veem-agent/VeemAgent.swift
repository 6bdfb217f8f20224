import Agent
import ArgumentParser
import Daemon
import Hypervisor
import Logging
import Messaging

@main
struct VeemAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "veem-agent",
        abstract: "The veem agent of one compute host: runs VMI commands on libvirt and reports to the coordinator.")

    @Option(help: "Settings file of VEEM_* lines; the environment overrides it.")
    var config = "/etc/veem/agent.conf"

    func run() async throws {
        let settings = try Settings(file: config)
        DaemonRunner.bootstrapLogging(level: settings["VEEM_LOG_LEVEL"])
        let logger = Logger(label: "veem.agent")
        let configuration = try AgentConfiguration(settings: settings)
        let driver = try await LibvirtDriver.open(uri: configuration.libvirtURI,
                                                  diskDirectory: configuration.diskDirectory)
        let connection = try await DaemonRunner.connectToBroker(
            settings: settings, connectionName: "veem-agent/\(configuration.host)", logger: logger)
        defer { connection.close() }
        let notifier = SystemdNotifier()
        let agent = AgentService(configuration: configuration, driver: driver, connection: connection,
                                 logger: logger, onReady: notifier.ready(status:), onProgress: notifier.progress)
        try await DaemonRunner.run(main: agent, notifier: notifier, logger: logger)
    }
}

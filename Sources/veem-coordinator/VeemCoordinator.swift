import ArgumentParser
import Coordinator
import Daemon
import Inventory
import Logging
import Messaging

@main
struct VeemCoordinator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "veem-coordinator",
        abstract: "The veem coordinator of one site: places VEEs, commands agents, keeps the site inventory.")

    @Option(help: "Settings file of VEEM_* lines; the environment overrides it.")
    var config = "/etc/veem/coordinator.conf"

    func run() async throws {
        let settings = try Settings(file: config)
        DaemonRunner.bootstrapLogging(level: settings["VEEM_LOG_LEVEL"])
        let logger = Logger(label: "veem.coordinator")
        let configuration = try CoordinatorConfiguration(settings: settings)
        let inventory = try Inventory(path: configuration.databasePath)
        let connection = try await DaemonRunner.connectToBroker(
            settings: settings, connectionName: "veem-coordinator/\(configuration.site)", logger: logger)
        defer { connection.close() }
        let notifier = SystemdNotifier()
        let coordinator = CoordinatorService(configuration: configuration, inventory: inventory,
                                             connection: connection, logger: logger,
                                             onReady: notifier.ready(status:), onProgress: notifier.progress)
        try await DaemonRunner.run(main: coordinator, notifier: notifier, logger: logger)
    }
}

import Foundation
import Logging
import Messaging
import ServiceLifecycle

/// Runs a daemon's services in one `ServiceGroup`, in dependency order, shut down in reverse on SIGTERM or SIGINT.
/// The main service ending (or failing) ends the group.
public enum DaemonRunner {
    public static func run(main: some Service, notifier: SystemdNotifier, logger: Logger) async throws {
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: notifier),
                .init(service: main, successTerminationBehavior: .gracefullyShutdownGroup,
                      failureTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }

    /// Connects to the broker named by `VEEM_AMQP_URL`, retrying with backoff for `VEEM_AMQP_CONNECT_TIMEOUT_SECONDS`
    /// (default 60), and throws what the last attempt met if it never succeeds: a daemon that cannot reach its broker
    /// at start exits non-zero (systemd restarts it) instead of reporting ready.
    public static func connectToBroker(settings: Settings, connectionName: String,
                                       logger: Logger) async throws -> AMQPConnection {
        let amqp = try AMQPConfiguration(url: settings.string("VEEM_AMQP_URL", default: "amqp://127.0.0.1:5672/%2F"),
                                         connectionName: connectionName)
        let timeout = try settings.seconds("VEEM_AMQP_CONNECT_TIMEOUT_SECONDS", default: 60)
        let connection = AMQPConnection(configuration: amqp, declarations: [], logger: logger)
        do {
            try await connection.waitUntilConnected(timeout: timeout)
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// Logs to standard error (journald picks it up under systemd) at `VEEM_LOG_LEVEL` (default info).
    public static func bootstrapLogging(level: String?) {
        let level = level.flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

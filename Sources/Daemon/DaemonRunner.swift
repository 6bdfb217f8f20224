import Foundation
import Logging
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

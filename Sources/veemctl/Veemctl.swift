import ArgumentParser
import Foundation
import Logging
import Messaging
import VeemClient
import VMI

@main
struct Veemctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "veemctl",
        abstract: "The veem operator's CLI. It speaks the VMI over AMQP, like any other client.",
        subcommands: [Submit.self, Update.self, Hosts.self, VEEs.self, Monitor.self, PutKPI.self, Watch.self,
                      AccountCommand.self, BusCommand.self,
                      ServiceCommand.self])
}

struct Connection: ParsableArguments {
    @Option(help: "Broker URL (default: $VEEM_AMQP_URL or amqp://127.0.0.1:5672/%2F).")
    var amqp = ProcessInfo.processInfo.environment["VEEM_AMQP_URL"] ?? "amqp://127.0.0.1:5672/%2F"

    @Option(help: "Seconds to wait for the coordinator's answer, and with --wait for the VEEs' states.")
    var timeout: Double = 120

    var duration: Duration { .milliseconds(Int64(timeout * 1000)) }

    func client() async throws -> VeemClient {
        var logger = Logger(label: "veemctl")
        logger.logLevel = .error
        let connection = AMQPConnection(configuration: try AMQPConfiguration(url: amqp, connectionName: "veemctl"),
                                        logger: logger)
        do {
            try await connection.waitUntilConnected(timeout: duration)
        } catch {
            connection.close()
            throw error
        }
        let client = VeemClient(connection: connection)
        try await client.start()
        return client
    }
}

struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Define the VEEs in a JSON file ({\"vees\": [{\"name\":…, \"cpus\":…, \"memoryMiB\":…, "
            + "\"diskGiB\":…, \"image\":…}]}); all are placed, or none.")

    @Argument(help: "The file, or - for standard input.") var file: String
    @Flag(help: "Activate each VEE once it is defined.") var activate = false
    @Flag(help: "Wait until every VEE is DEFINED (or ACTIVE with --activate).") var wait = false
    @OptionGroup var connection: Connection

    func run() async throws {
        let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile()
            : try Data(contentsOf: URL(fileURLWithPath: file))
        let request: SubmitVEEs
        do {
            request = try VMI.decodeDocument(SubmitVEEs.self, from: data)
        } catch {
            throw ValidationError("\(file): not a VEE list: \(error.message)")
        }
        let client = try await connection.client()
        defer { client.stop() }
        let watcher = wait || activate ? try await SiteWatcher.start(client.connection, routingKey: "site.#") : nil
        var vees = try await client.submit(request.vees)
        print(Table.vees(vees))
        if let watcher {
            for vee in vees {
                try await expect(vee, .defined, watcher)
            }
        }
        if activate, let watcher {
            vees = try await withThrowingTaskGroup(of: VEEView.self) { group in
                for vee in vees { group.addTask { try await client.update(vee.id, .activate) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for vee in vees { try await expect(vee, .active, watcher) }
        }
        if wait || activate { print(Table.vees(try await client.site().vees.filter { v in vees.contains { $0.id == v.id } })) }
    }

    func expect(_ vee: VEEView, _ state: VEEState, _ watcher: SiteWatcher) async throws {
        let reached = try await watcher.wait(for: vee.id, toReach: [state, .failed], timeout: connection.duration)
        if reached == .failed { throw ValidationError("\(vee.spec.name) FAILED (see `veemctl vees`)") }
        print("\(vee.spec.name): \(reached.rawValue)")
    }
}

struct Update: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "VEEUpdate: activate, pause, suspend, shutdown or destroy a VEE.")

    @Argument(help: "The VEE's id or name.") var vee: String
    @Argument(help: "activate | pause | suspend | shutdown | destroy") var action: String
    @Flag(help: "Wait until the host reports the new state.") var wait = false
    @OptionGroup var connection: Connection

    func run() async throws {
        guard let action = VEEAction(rawValue: action.uppercased()) else {
            throw ValidationError("action must be one of: "
                + VEEAction.allCases.map { $0.rawValue.lowercased() }.joined(separator: ", "))
        }
        let client = try await connection.client()
        defer { client.stop() }
        let watcher = wait ? try await SiteWatcher.start(client.connection, routingKey: "site.#") : nil
        let view = try await client.update(vee, action)
        print(Table.vees([view]))
        if let watcher {
            let reached = try await watcher.wait(for: view.id, toReach: [action.target, .failed],
                                                 current: view.observed, timeout: connection.duration)
            print("\(view.spec.name): \(reached.rawValue)")
            if reached == .failed { throw ExitCode(1) }
        }
    }
}

struct Hosts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the site's hosts.")
    @OptionGroup var connection: Connection

    func run() async throws {
        let client = try await connection.client()
        defer { client.stop() }
        print(Table.hosts(try await client.site().hosts))
    }
}

struct VEEs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vees", abstract: "List the site's VEEs.")
    @Flag(help: "Include destroyed VEEs.") var all = false
    @OptionGroup var connection: Connection

    func run() async throws {
        let client = try await connection.client()
        defer { client.stop() }
        print(Table.vees(try await client.site().vees.filter { all || $0.desired != .destroyed }))
    }
}

struct Monitor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "MonitoringInformation: the latest platform metrics and probe KPIs of one VEE or all.")
    @Argument(help: "The VEE's id or name.") var vee: String?
    @OptionGroup var connection: Connection

    func run() async throws {
        let client = try await connection.client()
        defer { client.stop() }
        print(Table.monitoring(try await client.monitoring(vee)))
    }
}

struct PutKPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put-kpi", abstract: "PutMonitoringInformation: push KPIs for a VEE, as a probe would.")
    @Argument(help: "The VEE's id or name.") var vee: String
    @Argument(help: "name=value pairs, e.g. RequestPerSecond=1200") var values: [String]
    @OptionGroup var connection: Connection

    func run() async throws {
        var kpis: [String: Double] = [:]
        for pair in values {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = Double(parts[1]) else {
                throw ValidationError("'\(pair)' is not name=number")
            }
            kpis[String(parts[0])] = value
        }
        let client = try await connection.client()
        defer { client.stop() }
        try await client.put(kpis: kpis, for: vee)
    }
}

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Follow the site's events live (Ctrl-C to stop).")
    @Flag(help: "Also show heartbeats and metrics.") var verbose = false
    @OptionGroup var connection: Connection

    func run() async throws {
        let client = try await connection.client()
        defer { client.stop() }
        let watcher = try await SiteWatcher.start(client.connection)
        // On stderr, so that scripts can tell when events start to count.
        FileHandle.standardError.write(Data("watching the site's events (Ctrl-C to stop)\n".utf8))
        for await message in watcher.events {
            if !verbose && (message.type == .heartbeat || message.type == .veeMetrics) { continue }
            print(Table.event(message))
            fflush(nil)
        }
    }
}

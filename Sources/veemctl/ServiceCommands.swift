import ArgumentParser
import Foundation
import VeemClient
import VMI

struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service", abstract: "Multi-tier services from manifests (docs/manifest.md).",
        subcommands: [Submit.self, List.self, Show.self, Scale.self, Undeploy.self])

    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deploy a manifest (YAML or JSON); shows progress until the service is ACTIVE or FAILED.")
        @Argument(help: "The manifest file, or - for standard input.") var file: String
        @Flag(help: "Return once accepted, without following the deployment.") var noWait = false
        @OptionGroup var connection: Connection

        func run() async throws {
            let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile()
                : try Data(contentsOf: URL(fileURLWithPath: file))
            let client = try await connection.client()
            defer { client.stop() }
            let watcher = try await SiteWatcher.start(client.connection, routingKey: "site.#")
            let progress = Task {
                for await message in watcher.events {
                    guard message.body is SiteEvent else { continue }
                    print(Table.event(message))
                    fflush(nil)
                }
            }
            defer { progress.cancel() }
            let view = try await client.submitService(manifest: String(decoding: data, as: UTF8.self))
            print("\(view.name) accepted: \(view.components.map { "\($0.name)×\($0.desiredReplicas)" }.joined(separator: ", "))")
            if noWait { return }
            let state = try await watcher.wait(forService: view.name, toReach: [.active, .failed],
                                               timeout: connection.duration)
            print(Table.services(try await client.services(view.name)))
            if state == .failed { throw ExitCode(1) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The site's services.")
        @OptionGroup var connection: Connection

        func run() async throws {
            let client = try await connection.client()
            defer { client.stop() }
            print(Table.services(try await client.services()))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One service: components and their replicas.")
        @Argument var name: String
        @OptionGroup var connection: Connection

        func run() async throws {
            let client = try await connection.client()
            defer { client.stop() }
            for service in try await client.services(name) {
                print(Table.services([service]))
                for component in service.components {
                    print("\n\(component.name) (\(component.slaClass), \(component.desiredReplicas) of "
                        + "\(component.minReplicas)...\(component.maxReplicas))")
                    if let shortfall = component.shortfall { print("short: \(shortfall)") }
                    print(Table.vees(component.replicas))
                }
                if let networks = service.networks, !networks.isEmpty { print("\n" + Table.networks(networks)) }
            }
        }
    }

    struct Scale: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a component's replica count by hand.")
        @Argument var service: String
        @Argument var component: String
        @Argument var replicas: Int
        @OptionGroup var connection: Connection

        func run() async throws {
            let client = try await connection.client()
            defer { client.stop() }
            print(Table.services([try await client.scale(service: service, component: component, replicas: replicas)]))
        }
    }

    struct Undeploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Destroy a service's VEEs, in reverse order.")
        @Argument var service: String
        @Flag(help: "Wait until it is UNDEPLOYED.") var wait = false
        @OptionGroup var connection: Connection

        func run() async throws {
            let client = try await connection.client()
            defer { client.stop() }
            let watcher = wait ? try await SiteWatcher.start(client.connection, routingKey: "site.#") : nil
            _ = try await client.undeploy(service: service)
            if let watcher {
                _ = try await watcher.wait(forService: service, toReach: [.undeployed], timeout: connection.duration)
                print("\(service): UNDEPLOYED")
            }
        }
    }
}

import ArgumentParser
import Foundation
import Messaging

/// `veemctl bus`: setting up a site's broker. It needs no broker connection: its output is for `rabbitmqctl`.
struct BusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bus", abstract: "Set up the site's broker: its topology and each broker user's rights.",
        subcommands: [Definitions.self])

    struct Definitions: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a definitions document for 'rabbitmqctl import_definitions': the site's exchanges and "
                + "queues in the vhost, and the least rights of each user named (Packaging/bus-users.sh uses it).")

        @Option(help: "The site's vhost.") var vhost = "veem"
        @Option(name: .customLong("user"), help: ArgumentHelp(
            "A broker user and its role: ROLE=NAME, ROLE being coordinator, gateway, operator or agent:HOST. "
                + "Repeat for each user; the users must exist.", valueName: "role=name"))
        var users: [String] = []

        func run() throws {
            let named = try users.map { text -> (name: String, role: BusRole) in
                let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[1].isEmpty else {
                    throw ValidationError("--user '\(text)': expected ROLE=NAME")
                }
                guard let role = BusRole(parts[0]) else {
                    throw ValidationError("--user '\(text)': the role must be coordinator, gateway, operator or "
                                          + "agent:HOST (HOST letters, digits, '.', '_', '-'), got '\(parts[0])'")
                }
                return (parts[1], role)
            }
            guard !vhost.isEmpty else { throw ValidationError("--vhost must not be empty") }
            FileHandle.standardOutput.write(try BusPolicy.definitions(vhost: vhost, users: named))
            FileHandle.standardOutput.write(Data("\n".utf8))
        }
    }
}

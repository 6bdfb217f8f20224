import ArgumentParser
import Foundation
import VeemClient
import VMI

struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account", abstract: "EC2 accounts: who may call veem-ec2, with which access key.",
        subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an account and print its access key and secret (shown only now); or import one with "
                + "--id, --access-key and --secret.")
        @Argument(help: "A name for the account.") var name: String
        @Option(help: "A 12-digit account id to keep (default: generated).") var id: String?
        @Option(help: "An access key id to import (with --secret).") var accessKey: String?
        @Option(help: "The secret of the imported access key.") var secret: String?
        @Flag(help: "Print shell exports (AWS_ACCESS_KEY_ID=…) instead of a table.") var exports = false
        @OptionGroup var connection: Connection

        func run() async throws {
            let client = try await connection.client()
            defer { client.stop() }
            let account = try await client.createAccount(CreateAccount(name: name, id: id, accessKey: accessKey,
                                                                       secret: secret))
            if exports {
                print("export AWS_ACCESS_KEY_ID=\(account.accessKey)")
                print("export AWS_SECRET_ACCESS_KEY=\(account.secret ?? "")")
            } else {
                print("account     \(account.id) (\(account.name))")
                print("access key  \(account.accessKey)")
                print("secret      \(account.secret ?? "")")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts (without secrets).")
        @OptionGroup var connection: Connection

        func run() async throws {
            let client = try await connection.client()
            defer { client.stop() }
            print("ACCOUNT        ACCESS KEY             NAME")
            for account in try await client.accounts() {
                print("\(account.id.padding(toLength: 14, withPad: " ", startingAt: 0)) "
                    + "\(account.accessKey.padding(toLength: 22, withPad: " ", startingAt: 0)) \(account.name)")
            }
        }
    }
}

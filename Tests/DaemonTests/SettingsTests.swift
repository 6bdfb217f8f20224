import Daemon
import Foundation
import Testing

@Suite struct SettingsTests {
    func file(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "veem-settings-\(UUID().uuidString.prefix(8)).conf"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theEnvironmentOverridesTheFileAndOnlyVEEMKeysCount() throws {
        let path = try file("""
            # comment
            VEEM_HOST = node1
            VEEM_HEARTBEAT_SECONDS=2.5

            VEEM_SITE=from-file
            """)
        let settings = try Settings(file: path, environment: ["VEEM_SITE": "from-env", "HOME": "/root"])
        #expect(settings["VEEM_HOST"] == "node1")
        #expect(settings["VEEM_SITE"] == "from-env")
        #expect(settings["HOME"] == nil)
        #expect(try settings.seconds("VEEM_HEARTBEAT_SECONDS", default: 5) == .milliseconds(2500))
        #expect(try settings.seconds("VEEM_MISSING", default: 5) == .seconds(5))
        // No file at all: the environment alone configures the daemon.
        #expect(try Settings(file: nil, environment: ["VEEM_HOST": "n"]).values == ["VEEM_HOST": "n"])
    }

    @Test func aNamedFileThatIsMissingIsAnError() throws {
        #expect(throws: SettingsError.self) { try Settings(file: "/nonexistent/veem.conf", environment: [:]) }
        do {
            _ = try Settings(file: "/nonexistent/veem.conf", environment: [:])
        } catch {
            #expect("\(error)" == "settings file /nonexistent/veem.conf does not exist")
        }
    }

    @Test func badLinesAndValuesAreNamed() throws {
        let path = try file("VEEM_HOST=node1\nthis is not a setting\n")
        #expect(throws: SettingsError.self) { try Settings(file: path, environment: [:]) }
        do {
            _ = try Settings(file: path, environment: [:])
        } catch {
            #expect("\(error)".contains(":2:"))
        }
        let settings = try Settings(file: nil, environment: ["VEEM_HEARTBEAT_SECONDS": "soon"])
        #expect(throws: SettingsError.self) { try settings.seconds("VEEM_HEARTBEAT_SECONDS", default: 5) }
    }
}

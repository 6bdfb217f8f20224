import Foundation
import Testing
import VeemTestSupport

/// The multi-host testbed (`Packaging/testbed.sh`): hosts with libvirtds of their own, reachable only inside the
/// testbed's namespaces, and nothing left once it is down, even after a failure.
@Suite(.serialized) struct TestbedTests {
    @Test func eachHostHasItsOwnLibvirtdAndTheHostsReachEachOtherOnlyInsideTheTestbed() async throws {
        let started = ContinuousClock.now
        let directory = try await Testbed.with(hosts: 3) { testbed in
            print("testbed: 3 hosts up in \(ContinuousClock.now - started)")
            var uuids: Set<String> = []
            for host in testbed.hosts {
                let name = try await ExternalCommand.run("/usr/bin/virsh", ["-q", "-c", testbed.libvirtURI(host),
                                                                          "hostname"])
                #expect(name.output.trimmingCharacters(in: .whitespacesAndNewlines) == host, "\(name.output)")
                let capabilities = try await ExternalCommand.run("/usr/bin/virsh", ["-c", testbed.libvirtURI(host),
                                                                                  "capabilities"])
                let uuid = capabilities.output.components(separatedBy: "<uuid>").dropFirst().first?
                    .components(separatedBy: "</uuid>").first
                uuids.insert(try #require(uuid, "\(capabilities.output.prefix(300))"))
                // Management from the control node, underlay between hosts.
                #expect(try await testbed.exec("ctl", "ping", "-c1", "-W2", testbed.managementAddress(host)).status == 0)
                #expect(try await testbed.exec("h1", "ping", "-c1", "-W2", testbed.underlayAddress(host)).status == 0)
            }
            #expect(uuids.count == 3, "each libvirtd its own host_uuid")
            // The root namespace has none of the testbed's addresses: its packets never leave through them.
            let root = try await ExternalCommand.run("/usr/sbin/ip", ["-br", "addr"])
            #expect(!root.output.contains("10.77.0.") && !root.output.contains("10.78.0."), "\(root.output)")
            return testbed.directory
        }
        try await expectNothingLeft(of: directory)
    }

    @Test func aFailedTestStillLeavesNothing() async throws {
        var directory = ""
        await #expect(throws: TestSupportError.self) {
            try await Testbed.with(hosts: 2) { testbed in
                directory = testbed.directory
                // A guest's process, or an agent, still running in a host when the test fails.
                try await testbed.spawn("h2", log: "/dev/null", "sleep", "600")
                let running = try await eventually(timeout: .seconds(5)) {
                    !(try await ExternalCommand.run("/usr/sbin/ip", ["netns", "pids", testbed.namespacePrefix + "h2"]))
                        .output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                }
                try #require(running)
                throw TestSupportError("the test failed")
            }
        }
        try await expectNothingLeft(of: directory)
    }

    func expectNothingLeft(of directory: String) async throws {
        let tag = URL(fileURLWithPath: directory).lastPathComponent
        let namespaces = try await ExternalCommand.run("/usr/sbin/ip", ["netns", "list"])
        #expect(!namespaces.output.contains("vtb-\(tag.suffix(10))-"), "\(namespaces.output)")
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains(directory), "no mount left under \(directory)")
        let processes = try await ExternalCommand.run("/usr/bin/pgrep", ["-af", directory])
        #expect(processes.status != 0, "no process left: \(processes.output)")
        #expect(!FileManager.default.fileExists(atPath: directory))
    }
}

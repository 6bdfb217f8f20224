import Cloud
import Foundation
import Hypervisor
import Testing
import VeemClient
import VeemTestSupport
import VMI

/// The EC2 gateway end to end: real awscli and boto3 (Tests/IntegrationTests/EC2/ec2_scenarios.py) against a
/// gateway, coordinator and agent (libvirt's test driver) on a fresh vhost, with two accounts.
@Suite(.serialized) struct EC2GatewayTests {
    static let image = "ami-0000000000000001a"
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("EC2/ec2_scenarios.py").path

    /// Runs one scenario of the script against a fresh site; its own assertions decide, and its output shows why.
    func scenario(_ name: String) async throws {
        try await withSite { site in
            let driver = try await LibvirtDriver.open(uri: try TestNode.uri(cpus: 64, memoryMiB: 65536),
                                                      diskDirectory: NSTemporaryDirectory() + "veem-it-disks")
            try await site.startCoordinator(cloud: CloudSite(region: "site1", images: [
                SiteImage(id: Self.image, name: "tiny-guest", location: "tiny"),
            ]))
            try await site.startAgent(uniqueHost(), driver: driver)
            let port = try await site.startGateway()
            let a = try await site.client.createAccount(CreateAccount(name: "alice"))
            let b = try await site.client.createAccount(CreateAccount(name: "bob"))
            var environment = ProcessInfo.processInfo.environment
            environment["VEEM_EC2_URL"] = "http://127.0.0.1:\(port)"
            environment["VEEM_EC2_REGION"] = "site1"
            environment["VEEM_EC2_IMAGE"] = Self.image
            for (prefix, account) in [("VEEM_A", a), ("VEEM_B", b)] {
                environment["\(prefix)_ID"] = account.id
                environment["\(prefix)_KEY"] = account.accessKey
                environment["\(prefix)_SECRET"] = account.secret
            }
            let result = try await ExternalCommand.run("/usr/bin/env", ["python3", Self.script, name],
                                                       environment: environment)
            #expect(result.status == 0, "\(name) failed:\n\(result.output)")
            #expect(result.output.contains("ok \(name)"))
            if name == "model" { print(result.output) }  // the share of each action's output members, for the log
        }
    }

    @Test func awscliRunsWaitsStopsStartsAndTerminates() async throws { try await scenario("lifecycle") }
    @Test func keyPairsGroupsAddressesVolumesImagesTagsFiltersAndDryRun() async throws {
        try await scenario("resources")
    }
    @Test func oneAccountCannotSeeOrTouchAnothersResources() async throws { try await scenario("isolation") }
    @Test func badInputGetsTheEC2ErrorAndChangesNothing() async throws { try await scenario("bad_input") }
    @Test func accountAttributesInstanceStatusAndPagesAsToolsUseThem() async throws { try await scenario("tools") }
    @Test func vpcsSubnetsAndNetworkInterfacesAsEC2HasThem() async throws { try await scenario("vpcs") }
    /// Every answer holds only members of botocore's output shape, typed right, and what EC2 always returns.
    @Test func everyAnswerFitsBotocoresServiceModel() async throws { try await scenario("model") }
    @Test func pauseSuspendAndServiceManifestsThroughTheQueryAPI() async throws { try await scenario("extensions") }
}

import Foundation
import Hypervisor
import Testing
import VeemTestSupport

/// The shipped daemons as an operator runs them: `veem-coordinator`, three `veem-agent`s (two test-driver hosts of
/// their own sizes, one on qemu:///system with a real TCG guest) and `veem-ec2`, each the built executable in its
/// own process with a settings file and its unit's environment, ready on `READY=1`. Driven only through public
/// interfaces: the built `veemctl`, awscli and boto3 on the gateway's port, and pika on the request queue.
@Suite(.serialized) struct ShippedDaemonTests {
    static let imageDirectory = ProcessInfo.processInfo.environment["VEEM_IMAGE_DIR"] ?? "/var/lib/veem/images"
    static let clients = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Clients").path
    static let ec2Scenarios = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("IntegrationTests/EC2/ec2_scenarios.py").path
    static let image = "ami-0000000000000001a"
    /// The tiny guest, which only the qemu host offers.
    static let tinyImage = "ami-0000000000000002b"

    /// A two-tier service for the test-driver hosts (only they offer the image `small`); no elasticity rule, so that
    /// its replica counts stay put while daemons are killed and restarted.
    static let manifest = """
        service: shop
        components:
          C1:
            cpus: 1
            memoryMiB: 256
            diskGiB: 1
            image: small
            networks: [red]
            replicas: {initial: 2, min: 1, max: 4}
            kpis: [RequestPerSecond]
            dependsOn: [C3]
          C3:
            cpus: 2
            memoryMiB: 512
            diskGiB: 1
            image: small
            networks: [red]
            replicas: {initial: 1, min: 1, max: 2}
        """

    @Test func aSiteOfShippedDaemonsServesThroughItsPublicInterfaces() async throws {
        let tiny = try #require(try GuestImage.catalogue(in: Self.imageDirectory)["tiny"],
                                "run Packaging/build-tiny-guest.sh \(Self.imageDirectory) first")
        try await ShippedSite.with { site in
            let tcg = TCGHost(site: site)
            do {
                try await run(site, tcg: tcg, tiny: tiny)
                await tcg.cleanUp()
            } catch {
                await tcg.cleanUp()
                throw error
            }
        }
    }

    func run(_ site: ShippedSite, tcg: TCGHost, tiny: GuestImage) async throws {
        let images = site.directory + "/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        try JSONEncoder().encode(GuestImage(name: "small")).write(to: URL(fileURLWithPath: images + "/small.json"))
        func agentSettings(_ host: String, uri: String, type: String, images: String) -> [String: String] {
            ["VEEM_HOST": host, "VEEM_LIBVIRT_URI": uri, "VEEM_DOMAIN_TYPE": type, "VEEM_IMAGE_DIR": images,
             "VEEM_STATE_DIR": site.directory + "/" + host, "VEEM_HEARTBEAT_SECONDS": "1", "VEEM_METRICS_SECONDS": "2",
             "VEEM_BOOT_TIMEOUT_SECONDS": "120"]
        }
        // Every daemon at once, as systemd would start them at boot; each is waited for on its own READY=1.
        async let coordinator = site.start("veem-coordinator", name: "coordinator", settings: [
            "VEEM_SITE": "site1", "VEEM_DATABASE": site.directory + "/coordinator.sqlite",
            "VEEM_HEARTBEAT_SECONDS": "1", "VEEM_SHUTDOWN_TIMEOUT_SECONDS": "20",
            "VEEM_EC2_IMAGES": "\(Self.image):small:small-guest,\(Self.tinyImage):tiny:tiny-guest",
        ])
        async let small1 = site.start("veem-agent", name: "small1", settings: agentSettings(
            "small1", uri: try TestNode.uri(cpus: 4, memoryMiB: 4096), type: "test", images: images))
        async let small2 = site.start("veem-agent", name: "small2", settings: agentSettings(
            "small2", uri: try TestNode.uri(cpus: 8, memoryMiB: 16384), type: "test", images: images))
        async let tcg1 = site.start("veem-agent", name: "tcg1", settings: agentSettings(
            "tcg1", uri: "qemu:///system", type: "qemu", images: Self.imageDirectory))
        async let gateway = site.start("veem-ec2", name: "ec2", settings: [
            "VEEM_EC2_LISTEN": "127.0.0.1:0", "VEEM_EC2_TIMEOUT_SECONDS": "30",
        ])
        _ = try await (coordinator, small1, small2, tcg1)
        let port = try Self.listeningPort(of: try await gateway)

        // veemctl sees every host, UP, with the size it was given (registration follows each agent's READY).
        func hostsUp() async throws -> Bool {
            let hosts = VeemctlTable.rows(try await site.veemctl("hosts"))
            return [("small1", "4 (0)"), ("small2", "8 (0)"), ("tcg1", nil)].allSatisfy { host, cpus in
                hosts.contains { $0[0] == host && $0[2] == "UP" && (cpus == nil || $0[5] == cpus) }
            }
        }
        let up = try await eventually(timeout: .seconds(30), hostsUp)
        let hosts = try await site.veemctl("hosts")
        #expect(up, "every host UP with its size:\n\(hosts)")

        // A service manifest straight onto the request queue, from a plain AMQP client.
        let manifest = site.directory + "/shop.yaml"
        try Self.manifest.write(toFile: manifest, atomically: true, encoding: .utf8)
        let submitted = try await ExternalCommand.run("/usr/bin/env", ["python3", Self.clients + "/submit_manifest.py",
                                                                      manifest],
                                                      environment: ProcessInfo.processInfo.environment
                                                          .merging(["VEEM_AMQP_URL": site.amqpURL]) { $1 })
        #expect(submitted.status == 0, "pika submission: \(submitted.output)")
        let active = try await eventually(timeout: .seconds(60)) {
            VeemctlTable.rows(try await site.veemctl("service", "list")).first { $0.first == "shop" }?[1] == "ACTIVE"
        }
        let shown = try await site.veemctl("service", "show", "shop")
        #expect(active, "shop never became ACTIVE: \(shown)")
        let shop = try await site.veemctl("service", "list")
        #expect(shop.contains("C1 2/2") && shop.contains("C3 1/1"), "\(shop)")

        // A real TCG guest on the qemu host, booted (its console marker), through the built veemctl.
        let guest = try await tcg.boot(tiny: tiny)
        #expect(tcg.bootMarkers(guest) == 1)

        // EC2 clients against the gateway process: awscli's lifecycle, boto3's isolation between two accounts, and
        // every answer walked through botocore's service model.
        let ec2 = try await Self.accounts(site).merging([
            "VEEM_EC2_URL": "http://127.0.0.1:\(port)", "VEEM_EC2_REGION": "site1", "VEEM_EC2_IMAGE": Self.image,
        ]) { $1 }
        for scenario in ["lifecycle", "isolation", "model"] {
            let result = try await ExternalCommand.run("/usr/bin/env", ["python3", Self.ec2Scenarios, scenario],
                                                       environment: ProcessInfo.processInfo.environment
                                                           .merging(ec2) { $1 })
            #expect(result.status == 0, "\(scenario):\n\(result.output)")
        }

        try await rebootThroughEC2(site, tcg: tcg, environment: ec2)

        try await killAndRestart(site, tcg: tcg, guest: guest)

        // Every unit with a watchdog got its pings; every daemon stops on SIGTERM within its TimeoutStopSec, exit 0.
        for name in ["coordinator", "small1", "small2", "tcg1"] {
            let process = try #require(site.process(name))
            try await process.waitForNotification("WATCHDOG=1", timeout: .seconds(40))
        }
        for name in ["ec2", "small1", "small2", "tcg1", "coordinator"] {
            let exit = try await site.stop(name)
            #expect(!exit.signalled && exit.status == 0, "\(name): \(exit)\n\(site.process(name)?.output ?? "")")
            #expect(site.process(name)?.notify.hasReceived("STOPPING=1") == true, "\(name) announced STOPPING")
        }
        // Stopping the agent touched no domain: the guest still runs, booted once.
        #expect(try await tcg.state(guest) == "running")
        #expect(tcg.bootMarkers(guest) == 1)
    }

    /// kill -9 of the coordinator and of agents, a command sent while the coordinator is down, restarts: everything
    /// converges with nothing lost or duplicated.
    func killAndRestart(_ site: ShippedSite, tcg: TCGHost, guest: String) async throws {
        let lone = site.directory + "/lone.json"
        try #"{"vees": [{"name": "lone1", "cpus": 1, "memoryMiB": 128, "diskGiB": 1, "image": "small"}]}"#
            .write(toFile: lone, atomically: true, encoding: .utf8)
        try await site.veemctl("submit", lone, "--activate", "--timeout", "60")
        let before = VeemctlTable.rows(try await site.veemctl("vees")).map { $0[0] }.sorted()

        try await #require(site.process("coordinator")).kill9()
        async let paused = site.veemctlResult(["update", "lone1", "pause", "--wait", "--timeout", "90"])
        try await site.restart("coordinator")
        let pause = try await paused
        #expect(pause.status == 0, "the pause sent while the coordinator was down ran: \(pause.output)")

        // A test-driver host loses its domains with its process; the restarted agent rebuilds them from what it
        // was told. The qemu host's guest outlives its agent and is adopted, not booted again.
        try await #require(site.process("small1")).kill9()
        try await #require(site.process("small2")).kill9()
        try await #require(site.process("tcg1")).kill9()
        #expect(try await tcg.state(guest) == "running", "the guest outlives its agent")
        try await site.restart("small1")
        try await site.restart("small2")
        try await site.restart("tcg1")

        func converged() async throws -> Bool {
            VeemctlTable.rows(try await site.veemctl("vees")).allSatisfy { row in
                row.count >= 9 && row[7] == row[8] && row[7] == (row[0] == "lone1" ? "PAUSED" : "ACTIVE")
            }
        }
        let back = try await eventually(timeout: .seconds(60), converged)
        let vees = try await site.veemctl("vees")
        #expect(back, "every VEE back in its desired state:\n\(vees)")
        let after = VeemctlTable.rows(try await site.veemctl("vees")).map { $0[0] }.sorted()
        #expect(after == before, "nothing lost or duplicated")
        #expect(try await tcg.domainCount(guest) == 1)
        #expect(tcg.bootMarkers(guest) == 1, "adopted, not booted again")
        try await site.veemctl("update", "lone1", "activate", "--wait", "--timeout", "60")
    }

    /// RebootInstances reboots the real guest: its boot marker appears a second time, and it is running again.
    func rebootThroughEC2(_ site: ShippedSite, tcg: TCGHost, environment: [String: String]) async throws {
        let cli = AWSCLI(endpoint: try #require(environment["VEEM_EC2_URL"]),
                         accessKey: try #require(environment["VEEM_A_KEY"]),
                         secret: try #require(environment["VEEM_A_SECRET"]))
        let instance = try await cli.ec2("run-instances", "--image-id", Self.tinyImage, "--instance-type", "t2.nano",
                                     "--query", "Instances[0].InstanceId")
        _ = try await cli.ec2("wait", "instance-running", "--instance-ids", instance)
        let vee = try #require(VeemctlTable.rows(try await site.veemctl("vees")).first { $0[0] == instance }?[1])
        tcg.adopt(vee)
        #expect(tcg.bootMarkers(vee) == 1)
        let firstBoot = tcg.console(vee)
        _ = try await cli.ec2("reboot-instances", "--instance-ids", instance)
        // The agent empties the console before a boot it waits for; the guest's marker then comes back.
        let rebooted = try await eventually(timeout: .seconds(120)) {
            let now = tcg.console(vee)
            return !now.hasPrefix(firstBoot) && now.contains("VEEM-GUEST-BOOTED")
        }
        #expect(rebooted, "the boot marker again on a fresh console after RebootInstances:\n\(tcg.console(vee))")
        _ = try await cli.ec2("wait", "instance-status-ok", "--instance-ids", instance)
        #expect(try await tcg.state(vee) == "running")
        // GetConsoleOutput: the agent of the qemu host reads the guest's serial console and answers the gateway.
        let output = try await cli.ec2("get-console-output", "--instance-id", instance, "--query", "Output")
        let decoded = Data(base64Encoded: output).map { String(decoding: $0, as: UTF8.self) } ?? output
        #expect(decoded.contains("VEEM-GUEST-BOOTED"), "the console through EC2: \(output.prefix(300))")
        _ = try await cli.ec2("terminate-instances", "--instance-ids", instance)
        _ = try await cli.ec2("wait", "instance-terminated", "--instance-ids", instance)
    }

    /// The port in the gateway's READY status ("EC2 API on 127.0.0.1:PORT").
    static func listeningPort(of gateway: DaemonProcess) throws -> Int {
        let ready = try #require(gateway.notify.received.first { $0.contains("READY=1") })
        let status = try #require(ready.split(separator: "\n").first { $0.hasPrefix("STATUS=") })
        return try #require(status.split(separator: ":").last.flatMap { Int($0) }, "\(status)")
    }

    /// Two EC2 accounts made with `veemctl account create`, as ec2_scenarios.py takes them.
    static func accounts(_ site: ShippedSite) async throws -> [String: String] {
        var environment: [String: String] = [:]
        for (prefix, name) in [("VEEM_A", "alice"), ("VEEM_B", "bob")] {
            let output = try await site.veemctl("account", "create", name)
            func field(_ label: String) throws -> String {
                let line = try #require(output.split(separator: "\n").first { $0.hasPrefix(label) }, "\(output)")
                return String(line.dropFirst(label.count).trimmingCharacters(in: .whitespaces)
                    .split(separator: " ")[0])
            }
            environment[prefix + "_ID"] = try field("account")
            environment[prefix + "_KEY"] = try field("access key")
            environment[prefix + "_SECRET"] = try field("secret")
        }
        return environment
    }
}

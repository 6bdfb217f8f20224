import Foundation
import Hypervisor
import Messaging
import Testing
import VMI
import VeemClient
import VeemTestSupport

/// Least privilege on the bus, as an operator sets it up: `Packaging/bus-users.sh` makes a broker user per role and
/// per agent, and the shipped daemons run on those users from the env files it writes. The site works end to end
/// (registration, commands, EC2 with a console read), and an agent's credentials can neither read another host's
/// commands, publish as another host, nor submit requests; a gateway's may send EC2 calls only.
@Suite(.serialized) struct BusPrivilegeTests {
    static let clients = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Clients").path
    static let image = "ami-0000000000000001a"

    @Test func eachDaemonRunsOnABrokerUserWithOnlyTheRightsItNeeds() async throws {
        try await ShippedSite.with(label: "bus") { site in
            let prefix = "veemtest-" + site.broker.vhost.suffix(8)
            let users = ["coordinator", "ec2", "operator", "agent-host1", "agent-host2"].map { "\(prefix)-\($0)" }
            defer {
                // Users are the node's, not the vhost's: removed here, not with the vhost.
                let ctl = Process()
                ctl.executableURL = URL(fileURLWithPath: "/bin/sh")
                ctl.arguments = ["-c", users.map { "rabbitmqctl -q delete_user \($0) >/dev/null 2>&1" }
                    .joined(separator: "; ")]
                try? ctl.run()
                ctl.waitUntilExit()
            }
            let settings = try await setUpBus(site, prefix: prefix)
            try await run(site, settings: settings, prefix: prefix)
        }
    }

    /// Runs the shipped script twice (the site's users, then two agents') and returns each env file's settings.
    func setUpBus(_ site: ShippedSite, prefix: String) async throws -> [String: [String: String]] {
        let directory = site.directory + "/bus"
        func script(_ arguments: [String]) async throws {
            let result = try await ExternalCommand.run(
                DaemonProcess.packageRoot + "/Packaging/bus-users.sh",
                ["--vhost", site.broker.vhost, "--prefix", prefix, "--broker", "\(site.broker.host):\(site.broker.port)",
                 "--dir", directory, "--veemctl", DaemonProcess.binDirectory + "/veemctl"] + arguments)
            try #require(result.status == 0, "bus-users.sh \(arguments): \(result.output)")
        }
        try await script(["site"])
        try await script(["agent", "host1", "host2"])
        var settings: [String: [String: String]] = [:]
        for name in ["coordinator", "ec2", "operator", "agent-host1", "agent-host2"] {
            let path = "\(directory)/\(name).env"
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(path) readable by its owner only")
            settings[name] = Self.parse(try String(contentsOfFile: path, encoding: .utf8))
        }
        // Run again, it keeps each user's password (a daemon running on it goes on working).
        let before = settings["agent-host1"]
        try await script(["agent", "host1"])
        #expect(Self.parse(try String(contentsOfFile: directory + "/agent-host1.env", encoding: .utf8)) == before)
        return settings
    }

    func run(_ site: ShippedSite, settings: [String: [String: String]], prefix: String) async throws {
        let images = site.directory + "/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        try JSONEncoder().encode(GuestImage(name: "small")).write(to: URL(fileURLWithPath: images + "/small.json"))
        // Each daemon with its env file over its settings, as the unit's EnvironmentFile= gives it.
        async let agent = site.start("veem-agent", name: "host1", settings: [
            "VEEM_HOST": "host1", "VEEM_LIBVIRT_URI": try TestNode.uri(cpus: 4, memoryMiB: 4096),
            "VEEM_DOMAIN_TYPE": "test", "VEEM_IMAGE_DIR": images, "VEEM_STATE_DIR": site.directory + "/host1",
            "VEEM_HEARTBEAT_SECONDS": "1",
        ].merging(try #require(settings["agent-host1"])) { $1 })
        async let gateway = site.start("veem-ec2", name: "ec2", settings: ["VEEM_EC2_LISTEN": "127.0.0.1:0"]
            .merging(try #require(settings["ec2"])) { $1 })
        // Started last: the agent and the gateway wait for the site's exchanges, which the script declared.
        try await site.start("veem-coordinator", name: "coordinator", settings: [
            "VEEM_SITE": "site1", "VEEM_DATABASE": site.directory + "/coordinator.sqlite",
            "VEEM_HEARTBEAT_SECONDS": "1", "VEEM_EC2_IMAGES": "\(Self.image):small:small",
        ].merging(try #require(settings["coordinator"])) { $1 })
        _ = try await (agent, gateway)
        site.veemctlURL = try #require(settings["operator"]?["VEEM_AMQP_URL"])

        // The site works on these users: the coordinator bound host1's command queue, and commands reach it.
        let up = try await eventually(timeout: .seconds(30)) {
            VeemctlTable.rows(try await site.veemctl("hosts")).contains { $0[0] == "host1" && $0[2] == "UP" }
        }
        try #require(up, "host1 registered and UP")
        let lone = site.directory + "/lone.json"
        try #"{"vees": [{"name": "lone1", "cpus": 1, "memoryMiB": 128, "diskGiB": 1, "image": "small"}]}"#
            .write(toFile: lone, atomically: true, encoding: .utf8)
        try await site.veemctl("submit", lone, "--activate", "--wait", "--timeout", "60")
        // EC2 through the gateway's user; GetConsoleOutput goes to the agent and comes back through the coordinator.
        try await ec2(site, gateway: try await gateway)

        let agentURL = try #require(settings["agent-host2"]?["VEEM_AMQP_URL"])
        try await intrude(site, agentURL: agentURL, operatorUser: "\(prefix)-operator")
        try await speakForAnotherHost(site, agentURL: agentURL)
        try await gatewaySendsAnOperatorsRequest(site, gatewayURL: try #require(settings["ec2"]?["VEEM_AMQP_URL"]))
        // Nothing the intruders did reached the site.
        let vees = VeemctlTable.rows(try await site.veemctl("vees"))
        #expect(vees.contains { $0[0] == "lone1" && $0.contains("ACTIVE") }, "\(vees)")
    }

    /// Host2's agent user tries what it must not, with pika: the broker refuses each.
    func intrude(_ site: ShippedSite, agentURL: String, operatorUser: String) async throws {
        let result = try await ExternalCommand.run("/usr/bin/env", ["python3", Self.clients + "/bus_intruder.py",
                                                                   "host2", "host1", operatorUser],
                                                   environment: ProcessInfo.processInfo.environment
                                                       .merging(["VEEM_AMQP_URL": agentURL]) { $1 })
        try #require(result.status == 0, "\(result.output)")
        let json = try #require(result.output.firstIndex(of: "{").map { String(result.output[$0...]) })
        let outcomes = try JSONDecoder().decode([String: String].self, from: Data(json.utf8))
        let allowed: Set = ["declare its own queue", "consume its own queue", "check the events exchange"]
        #expect(outcomes.count == 16, "\(outcomes)")
        for (attempt, outcome) in outcomes.sorted(by: { $0.key < $1.key }) {
            print("bus: agent host2 may \(allowed.contains(attempt) ? "" : "not ")\(attempt): \(outcome)")
            if allowed.contains(attempt) {
                #expect(outcome == "allowed", "\(attempt): \(outcome)")
            } else {
                let reason = attempt.contains("user-id") ? "PRECONDITION_FAILED" : "ACCESS_REFUSED"
                #expect(outcome.hasPrefix("refused") && outcome.contains(reason), "\(attempt): \(outcome)")
            }
        }
    }

    /// Host2's user publishes under its own key (which the broker allows) a registration for another host: the
    /// coordinator drops it and says why.
    func speakForAnotherHost(_ site: ShippedSite, agentURL: String) async throws {
        let connection = AMQPConnection(configuration: try AMQPConfiguration(url: agentURL, connectionName: "intruder"))
        defer { connection.close() }
        let forged = HostRegistration(host: "host9", hypervisor: "QEMU", domainType: "test",
                                      capacity: Resources(cpus: 64, memoryMiB: 65536, diskGiB: 1000), images: ["small"],
                                      vees: [])
        try await connection.send(Envelope(body: forged, sender: "agent/host2"), exchange: Topology.eventsExchange,
                                  routingKey: Topology.hostReportKey("host2", "registration"))
        let coordinator = try #require(site.process("coordinator"))
        let dropped = try await eventually(timeout: .seconds(10)) {
            coordinator.output.contains("a report about host 'host9' was published as 'host.host2.registration'")
        }
        #expect(dropped, "the forged registration refused in the coordinator's log")
        #expect(!VeemctlTable.rows(try await site.veemctl("hosts")).contains { $0[0] == "host9" })
    }

    /// The gateway's user may publish requests (EC2 calls), but an operator's request from it is refused.
    func gatewaySendsAnOperatorsRequest(_ site: ShippedSite, gatewayURL: String) async throws {
        let connection = AMQPConnection(configuration: try AMQPConfiguration(url: gatewayURL, connectionName: "gw"))
        let client = VeemClient(connection: connection, sender: "not-veemctl")
        try await client.start()
        defer { client.stop() }
        let spec = VEESpec(name: "sneaky", image: "small")
        let reply = try VMI.open(try await client.requestRaw(SubmitVEEs(vees: [spec]), timeout: .seconds(20)))
        let refusal = try #require(reply.body as? ErrorReply, "\(reply.type)")
        #expect(refusal.errors.first?.code == .accessDenied, "\(refusal.errors)")
        #expect(refusal.errors.first?.message.contains("is a gateway: it may send EC2 calls only") == true)
        #expect(!VeemctlTable.rows(try await site.veemctl("vees", "--all")).contains { $0[0] == "sneaky" })
    }

    /// An account made by the operator, an instance run through the gateway, and its console read back.
    func ec2(_ site: ShippedSite, gateway: DaemonProcess) async throws {
        let port = try ShippedDaemonTests.listeningPort(of: gateway)
        let output = try await site.veemctl("account", "create", "bus-tester")
        func field(_ label: String) throws -> String {
            let line = try #require(output.split(separator: "\n").first { $0.hasPrefix(label) }, "\(output)")
            return String(line.dropFirst(label.count).trimmingCharacters(in: .whitespaces).split(separator: " ")[0])
        }
        let cli = AWSCLI(endpoint: "http://127.0.0.1:\(port)", accessKey: try field("access key"),
                         secret: try field("secret"))
        let instance = try await cli.ec2("run-instances", "--image-id", Self.image, "--instance-type", "t2.nano",
                                     "--query", "Instances[0].InstanceId")
        _ = try await cli.ec2("wait", "instance-running", "--instance-ids", instance)
        let console = try await cli.ec2("get-console-output", "--instance-id", instance, "--query", "InstanceId")
        #expect(console == instance, "GetConsoleOutput answered through the coordinator: \(console)")
        _ = try await cli.ec2("terminate-instances", "--instance-ids", instance)
    }

    static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        return values
    }
}

import Foundation
import Hypervisor
import Testing
import VeemTestSupport

/// The broker goes away under a running site of shipped daemons: `stop_app`/`start_app`, `close_all_connections` and
/// a whole broker restart, on a RabbitMQ node of the test's own. Every process keeps running and reconnects; a
/// command sent while the broker was away runs once it is back; the first round trip after it is back is measured.
@Suite(.serialized) struct BrokerFaultTests {
    /// What each fault must stay under: from the broker serving again to a veemctl request answered. Reconnects
    /// back off to at most 5 s; a veemctl process must start too, which under AddressSanitizer beside the suite
    /// took the round trip to 6.6 s.
    static let firstRoundTripLimit: Duration = .seconds(10)

    @Test func everyDaemonRidesOutTheBrokerGoingAway() async throws {
        let node = try await PrivateBroker.start()
        do {
            try await ShippedSite.with(label: "broker", on: node) { site in try await run(site, node: node) }
            await node.shutdown()
        } catch {
            await node.shutdown()
            throw error
        }
    }

    func run(_ site: ShippedSite, node: PrivateBroker) async throws {
        let images = site.directory + "/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        try JSONEncoder().encode(GuestImage(name: "small")).write(to: URL(fileURLWithPath: images + "/small.json"))
        async let coordinator = site.start("veem-coordinator", name: "coordinator", settings: [
            "VEEM_SITE": "site1", "VEEM_DATABASE": site.directory + "/coordinator.sqlite",
            "VEEM_HEARTBEAT_SECONDS": "1",
        ])
        async let agent = site.start("veem-agent", name: "host1", settings: [
            "VEEM_HOST": "host1", "VEEM_LIBVIRT_URI": try TestNode.uri(cpus: 8, memoryMiB: 8192),
            "VEEM_DOMAIN_TYPE": "test", "VEEM_IMAGE_DIR": images, "VEEM_STATE_DIR": site.directory + "/host1",
            "VEEM_HEARTBEAT_SECONDS": "1", "VEEM_METRICS_SECONDS": "2",
        ])
        async let gateway = site.start("veem-ec2", name: "ec2", settings: ["VEEM_EC2_LISTEN": "127.0.0.1:0"])
        _ = try await (coordinator, agent, gateway)
        let watch = try BackgroundVeemctl(site, ["watch"], log: site.directory + "/watch.log")
        defer { watch.stop() }

        let registered = try await eventually(timeout: .seconds(30)) {
            VeemctlTable.rows(try await site.veemctl("hosts")).contains { $0[0] == "host1" && $0[2] == "UP" }
        }
        try #require(registered, "host1 registered")
        // A refusal with nobody to answer still leaves a line in the coordinator's log.
        let clients = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Clients").path
        let raw = try await ExternalCommand.run("/usr/bin/env", ["python3", clients + "/publish_raw.py", "{not json"],
                                                environment: ProcessInfo.processInfo.environment
                                                    .merging(["VEEM_AMQP_URL": site.amqpURL]) { $1 })
        #expect(raw.status == 0, "\(raw.output)")
        let traced = try await eventually(timeout: .seconds(10)) {
            try #require(site.process("coordinator")).output.contains("request without reply_to: its answer is dropped")
        }
        #expect(traced, "the dropped refusal logged")
        let lone = site.directory + "/lone.json"
        try #"{"vees": [{"name": "lone1", "cpus": 1, "memoryMiB": 128, "diskGiB": 1, "image": "small"}]}"#
            .write(toFile: lone, atomically: true, encoding: .utf8)
        try await site.veemctl("submit", lone, "--activate", "--timeout", "60")

        // Each fault ends with lone1 in a new state, asked for while the broker was away.
        let faults: [(name: String, down: () async throws -> Void, up: () async throws -> Void, action: String)] = [
            ("stop_app, start_app", node.stopApp, node.startApp, "pause"),
            ("broker restart", { try await node.restart() }, {}, "activate"),
            ("close_all_connections", { try await site.broker.closeAllConnections() }, {}, "suspend"),
        ]
        var roundTrips: [String] = []
        for fault in faults {
            try await fault.down()
            // veemctl waits for the broker (within its --timeout) and sends once it is there.
            let update = ["update", "lone1", fault.action, "--wait", "--timeout", "60"]
            async let asked = site.veemctlResult(update)
            try await fault.up()
            let back = ContinuousClock.now
            let first = try await site.veemctlResult(["hosts", "--timeout", "30"])
            let roundTrip = ContinuousClock.now - back
            #expect(first.status == 0, "\(fault.name): \(first.output)")
            #expect(roundTrip <= Self.firstRoundTripLimit, "\(fault.name): first round trip took \(roundTrip)")
            roundTrips.append("\(fault.name): \(roundTrip.formatted(.units(allowed: [.milliseconds])))")
            let answered = try await asked
            #expect(answered.status == 0, "\(fault.name): the \(fault.action) sent meanwhile: \(answered.output)")
            for name in ["coordinator", "host1", "ec2"] {
                let exit = try await #require(site.process(name)).waitForExit(timeout: .zero)
                #expect(exit == nil, "\(name) ended (\(String(describing: exit))) after \(fault.name)")
            }
            #expect(watch.isRunning, "veemctl watch ended after \(fault.name):\n\(watch.output)")
        }
        print("broker faults survived, first round trip after the broker was back: \(roundTrips.joined(separator: "; "))")

        // The host was never judged down for the broker's silence, and the site still works end to end.
        let hosts = VeemctlTable.rows(try await site.veemctl("hosts"))
        #expect(hosts.first { $0[0] == "host1" }?[2] == "UP", "\(hosts)")
        let vees = VeemctlTable.rows(try await site.veemctl("vees"))
        #expect(vees.first { $0[0] == "lone1" }.map { $0[7] == "SUSPENDED" && $0[8] == "SUSPENDED" } == true, "\(vees)")
        try await site.veemctl("update", "lone1", "activate", "--wait", "--timeout", "30")
        let seen = try await eventually(timeout: .seconds(10)) { watch.output.contains("lone1 is ACTIVE") }
        #expect(seen, "veemctl watch still follows the site:\n\(watch.output)")
        #expect(!watch.output.contains("HOST_DOWN"), "a broker outage is no host failure:\n\(watch.output)")
        for name in ["coordinator", "host1", "ec2"] {
            let log = try #require(site.process(name)).output
            #expect(log.contains("connected to broker"), "\(name) logged its reconnects")
        }
    }
}

/// A veemctl that runs until stopped (`watch`), its output kept in a file.
final class BackgroundVeemctl: @unchecked Sendable {
    private let process = Process()
    let log: String

    init(_ site: ShippedSite, _ arguments: [String], log: String) throws {
        self.log = log
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.executableURL = URL(fileURLWithPath: DaemonProcess.binDirectory + "/veemctl")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["VEEM_AMQP_URL": site.amqpURL]) { $1 }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try? handle.close()
    }

    var isRunning: Bool { process.isRunning }
    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
    func stop() { if process.isRunning { process.terminate() } }
}

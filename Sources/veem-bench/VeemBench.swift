import ArgumentParser
import Foundation
import Hypervisor
import VeemClient
import VeemTestSupport
import VMI

@main
struct VeemBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "veem-bench", abstract: "veem's benchmarks; figures go to docs/benchmarks.md.",
        subcommands: [RoundTrip.self, PlacementBench.self, ElasticityBench.self, EC2Bench.self, NetworkBench.self], defaultSubcommand: RoundTrip.self)
}

struct RoundTrip: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roundtrip",
        abstract: "The VMI command round trip: client → coordinator → agent → libvirt (test driver) → event back, "
            + "against the same libvirt calls made directly.")

    @Option(help: "Commands timed one at a time (latency).") var sequential = 1000
    @Option(help: "Commands timed with --concurrency in flight (throughput).") var commands = 4000
    @Option(help: "Commands in flight at once, one VEE each.") var concurrency = 64
    @Option(help: "Raw libvirt calls for the baseline.") var raw = 4000

    func run() async throws {
        try await SiteHarness.with(label: "bench", heartbeat: .seconds(5)) { try await measure($0) }
    }

    func measure(_ site: SiteHarness) async throws {
        let driver = try await LibvirtDriver.open(uri: try TestNode.uri(cpus: 1024, memoryMiB: 1 << 20),
                                                  diskDirectory: NSTemporaryDirectory() + "veem-bench-disks")
        try await site.startCoordinator()
        try await site.startAgent("bench-host", driver: driver)
        let client = site.client!
        let vees = try await client.submit((0..<concurrency).map {
            VEESpec(name: "b\($0)", cpus: 1, memoryMiB: 16, diskGiB: 0, image: "tiny")
        })
        for vee in vees { try await site.expect(vee, .defined) }
        for vee in vees { _ = try await client.update(vee.id, .activate) }
        for vee in vees { try await site.expect(vee, .active) }

        /// One command and its event back: PAUSE when active, ACTIVATE when paused.
        @Sendable func roundTrip(_ vee: VEEView, _ index: Int) async throws -> Duration {
            let action: VEEAction = index % 2 == 0 ? .pause : .activate
            let start = ContinuousClock.now
            _ = try await client.update(vee.id, action)
            try await site.expect(vee, action.target)
            return ContinuousClock.now - start
        }

        // Warm-up, then latency one at a time.
        for index in 0..<100 { _ = try await roundTrip(vees[0], index) }
        var latencies: [Duration] = []
        for index in 0..<sequential { latencies.append(try await roundTrip(vees[0], index + 100)) }

        // Throughput: one worker per VEE, each waiting for its own event before its next command.
        let perWorker = max(2, commands / concurrency / 2 * 2)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for vee in vees {
                group.addTask { for index in 0..<perWorker { _ = try await roundTrip(vee, index) } }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - started
        let throughput = Double(perWorker * vees.count) / elapsed.seconds

        // Baseline: the same libvirt calls on the same driver, no AMQP and no coordinator.
        let target = vees[1].id
        var rawLatencies: [Duration] = []
        let rawStart = ContinuousClock.now
        for index in 0..<raw {
            let start = ContinuousClock.now
            if index % 2 == 0 { try await driver.pause(target) } else { try await driver.resume(target) }
            rawLatencies.append(ContinuousClock.now - start)
        }
        let rawThroughput = Double(raw) / (ContinuousClock.now - rawStart).seconds

        let p50 = percentile(latencies, 0.50), p99 = percentile(latencies, 0.99)
        let rawP50 = percentile(rawLatencies, 0.50), rawP99 = percentile(rawLatencies, 0.99)
        print("""
            | measure | veem round trip | raw libvirt call | ratio |
            | --- | --- | --- | --- |
            | p50 latency (one at a time, \(sequential) commands) | \(ms(p50)) | \(ms(rawP50)) | \(ratio(p50, rawP50)) |
            | p99 latency | \(ms(p99)) | \(ms(rawP99)) | \(ratio(p99, rawP99)) |
            | throughput (\(perWorker * vees.count) commands, \(concurrency) in flight) | \
            \(Int(throughput)) commands/s | \(Int(rawThroughput)) calls/s | \
            \(String(format: "%.1f×", rawThroughput / throughput)) |
            """)
    }

    func percentile(_ values: [Duration], _ p: Double) -> Duration {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    func ms(_ duration: Duration) -> String { String(format: "%.3f ms", duration.seconds * 1000) }

    func ratio(_ a: Duration, _ b: Duration) -> String { String(format: "%.0f×", a.seconds / max(b.seconds, 1e-9)) }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

import ArgumentParser
import Foundation
import Placement
import VMI

/// Placement throughput on simulated sites: services of 10 VEEs placed one request at a time on one evolving
/// snapshot, as the coordinator would.
struct PlacementBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "placement", abstract: "Placements/s and p99 per decision at 1,000 and 10,000 hosts.")

    @Option(help: "VEEs placed in all, per site size.") var vees = 100_000
    @Option(help: "VEEs per service (one request).") var serviceSize = 10
    @Option(parsing: .upToNextOption, help: "Site sizes (hosts).") var hosts: [Int] = [1_000, 10_000]

    func run() throws {
        print("| hosts | VEEs placed | requests | placements/s | p50 per request | p99 per request | weigher |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for count in hosts {
            for weigher in [Weigher.pack, .spread] { measure(hosts: count, weigher: weigher) }
        }
    }

    func measure(hosts count: Int, weigher: Weigher) {
        // Hosts sized so that the whole load fits (Bronze packs 4 vCPUs per CPU, Gold 1).
        let perHost = max(1, vees / count)
        let site = (0..<count).map { index in
            PlacementHost(id: "h\(index)", group: "g\(index % 4)", up: true,
                          capacity: Resources(cpus: perHost, memoryMiB: perHost * 1024, diskGiB: perHost * 4),
                          images: ["tiny"], load: Double(index % 100) / 100)
        }
        var state = Scheduler.State(site)
        let scheduler = Scheduler(weigher: weigher)
        var durations: [Duration] = []
        var placed = 0
        let clock = ContinuousClock()
        let started = clock.now
        for service in 0..<(vees / serviceSize) {
            let items = (0..<serviceSize).map { index in
                let gold = index < 2  // two Gold front ends, eight Bronze workers
                return PlacementItem(name: "s\(service)-\(index)",
                                     resources: Resources(cpus: gold ? 1 : 2, memoryMiB: 512, diskGiB: 2),
                                     image: "tiny", slaClass: gold ? .gold : .bronze,
                                     allowedGroups: service % 5 == 0 ? ["g\(service % 4)"] : nil,
                                     spreadKey: gold ? "s\(service)/front" : "s\(service)/worker")
            }
            let start = clock.now
            if case .success = scheduler.place(items, in: &state) { placed += items.count }
            durations.append(clock.now - start)
        }
        let elapsed = clock.now - started
        let sorted = durations.sorted()
        func ms(_ d: Duration) -> String { String(format: "%.3f ms", Double(d.components.attoseconds) / 1e15
                                                  + Double(d.components.seconds) * 1000) }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("| \(count) | \(placed) | \(durations.count) | \(Int(Double(placed) / seconds)) | "
              + "\(ms(sorted[sorted.count / 2])) | \(ms(sorted[sorted.count * 99 / 100])) | \(weigher.rawValue) |")
    }
}

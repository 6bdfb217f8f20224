import ArgumentParser
import Foundation
import Manifest

/// One elasticity round: every `Replicas(…)` rule of every service evaluated over its KPI inputs.
struct ElasticityBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elasticity", abstract: "The cost of one elasticity evaluation round over many services.")

    @Option(help: "Services in the site.") var services = 1_000
    @Option(help: "Rounds to time.") var rounds = 200

    func run() throws {
        let text = try String(contentsOf: URL(fileURLWithPath: "examples/shop.yaml"), encoding: .utf8)
        let manifest = try ManifestParser.parse(text).get()
        let due = manifest.rules.filter { if case .replicas = $0.statement { true } else { false } }
        // Per service: a request rate and replica counts (what the engine reads from the inventory's history).
        let inputs: [(rps: Double, replicas: [String: Int])] = (0..<services).map { index in
            let replicas: [String: Int] = ["C1": 1 + index % 3, "C3": 1 + index % 2]
            return (Double(index % 40) * 50, replicas)
        }
        let now = Date()
        var decisions = 0
        var durations: [Duration] = []
        let clock = ContinuousClock()
        for _ in 0..<rounds {
            let start = clock.now
            for input in inputs {
                decisions += Elasticity.decide(manifest, rules: due, inputs: Elasticity.Inputs(
                    measured: { name, _, _ in name == "RequestPerSecond" ? input.rps : 0 },
                    replicas: { input.replicas[$0] ?? 0 }, lastAction: { _ in nil }), now: now).count
            }
            durations.append(clock.now - start)
        }
        let sorted = durations.sorted()
        func ms(_ d: Duration) -> String {
            String(format: "%.2f ms", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
        }
        print("| services | rules per service | round p50 | round p99 | decisions per round |")
        print("| --- | --- | --- | --- | --- |")
        print("| \(services) | \(due.count) (+2 derived KPIs) | \(ms(sorted[sorted.count / 2])) | "
              + "\(ms(sorted[sorted.count * 99 / 100])) | \(decisions / rounds) |")
    }
}

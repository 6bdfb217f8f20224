import Foundation

/// Evaluates a manifest's rules over KPI values: pure, so the coordinator's engine only gathers inputs and applies
/// the decisions.
public enum Elasticity {
    /// One change a rule asks for.
    public struct Decision: Sendable, Equatable {
        public enum Resource: String, Sendable { case replicas, cpus }
        public var resource: Resource
        public var component: String
        public var from: Int
        public var to: Int
        /// The rule and its inputs, as recorded in the site's events.
        public var explanation: String
    }

    /// Component KPIs, derived ones resolved through the manifest's KPI rules (`Load(C3) = 3 * Load(C1)`).
    public struct Inputs {
        /// A measured KPI of a component (probes' values aggregated over the rule's window, or platform ones); nil
        /// when no sample fell in the window. A rule with an input missing decides nothing: no data is not zero.
        public var measured: (_ name: String, _ component: String, _ rule: ServiceManifest.Rule) -> Double?
        public var replicas: (_ component: String) -> Int
        public var lastAction: (_ component: String) -> Date?
        /// CPUs per replica now.
        public var cpus: (_ component: String) -> Int

        public init(measured: @escaping (String, String, ServiceManifest.Rule) -> Double?,
                    replicas: @escaping (String) -> Int, lastAction: @escaping (String) -> Date?,
                    cpus: @escaping (String) -> Int = { _ in 1 }) {
            self.measured = measured
            self.replicas = replicas
            self.lastAction = lastAction
            self.cpus = cpus
        }
    }

    /// The changes the `Replicas(C) = …` and (KPI-reading) `CPU(C) = …` rules due at `now` ask for.
    public static func decide(_ manifest: ServiceManifest, rules due: [ServiceManifest.Rule], inputs: Inputs,
                              now: Date) -> [Decision] {
        var derived: [String: ServiceManifest.Rule] = [:]
        for rule in manifest.rules {
            if case .kpi(let name, let component, _) = rule.statement { derived["\(name)(\(component))"] = rule }
        }
        var decisions: [Decision] = []
        for rule in due {
            let resource: Decision.Resource
            let component: String, expression: Expression, bounds: ClosedRange<Int>
            switch rule.statement {
            case .replicas(let c, let e):
                guard let replicas = manifest.component(c)?.replicas else { continue }
                (resource, component, expression, bounds) = (.replicas, c, e, replicas.min...replicas.max)
            case .cpu(let c, let e) where e.constantValue == nil:
                (resource, component, expression, bounds) = (.cpus, c, e, 1...VEESpecLimits.maxCPUs)
            default:
                continue
            }
            var seen: [String: Double] = [:]
            var missing = false
            func value(_ name: String, _ of: String, depth: Int) -> Double {
                let key = "\(name)(\(of))"
                if let known = seen[key] { return known }
                let result: Double
                if let rule = derived[key], case .kpi(_, _, let expression) = rule.statement, depth < 32 {
                    result = expression.evaluate { value($0, $1, depth: depth + 1) }
                } else if name == "Replicas" {
                    result = Double(inputs.replicas(of))
                } else if let measured = inputs.measured(name, of, rule) {
                    result = measured
                } else {
                    missing = true
                    result = 0
                }
                seen[key] = result
                return result
            }
            let raw = expression.evaluate { value($0, $1, depth: 0) }
            if missing { continue }
            let current = resource == .replicas ? inputs.replicas(component) : inputs.cpus(component)
            let target = min(bounds.upperBound, max(bounds.lowerBound, Int(raw.rounded(.up))))
            guard target != current else { continue }
            // Tolerance: act only when the rule's value differs from the present count by more than this fraction.
            if abs(raw - Double(current)) <= rule.tolerance * Double(max(current, 1)), bounds.contains(current) {
                continue
            }
            if let last = inputs.lastAction(component), now.timeIntervalSince(last) < rule.cooldown.seconds {
                continue
            }
            let inputsText = seen.sorted { $0.key < $1.key }.map { "\($0.key)=\(format($0.value))" }
                .joined(separator: ", ")
            decisions.append(Decision(resource: resource, component: component, from: current, to: target,
                                      explanation: "\(rule.text): \(inputsText) → \(format(raw)), "
                                          + "\(current) → \(target) \(resource == .replicas ? "replicas" : "CPUs")"))
        }
        return decisions
    }

    static func format(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(format: "%.2f", value)
    }

    /// Aggregates one VEE's samples as the rule asks.
    public static func aggregate(_ samples: [Double], _ how: ServiceManifest.Aggregate) -> Double? {
        guard !samples.isEmpty else { return nil }
        switch how {
        case .avg: return samples.reduce(0, +) / Double(samples.count)
        case .max: return samples.max()
        case .min: return samples.min()
        case .sum: return samples.reduce(0, +)
        case .p95:
            let sorted = samples.sorted()
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.95).rounded(.up)) - 1)]
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

import VMI

/// What a site offers, for checking a manifest's directives before anything is placed.
public struct SiteFacts: Sendable {
    /// SLA classes the site defines.
    public var classes: Set<String>
    /// Host groups, each with the resources of its largest host.
    public var groups: [String: Resources]

    public init(classes: Set<String>, groups: [String: Resources]) {
        self.classes = classes
        self.groups = groups
    }
}

/// Checks what the parser cannot see line by line: names that must exist, cycles, conflicting rules, and — given
/// the site — directives no host can satisfy.
public enum ManifestValidator {
    public static func problems(_ manifest: ServiceManifest) -> [ManifestProblem] { problems(manifest, site: nil) }

    public static func problems(_ manifest: ServiceManifest, site: SiteFacts?) -> [ManifestProblem] {
        var problems: [ManifestProblem] = []
        let components = Dictionary(manifest.components.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let networks = Set(manifest.components.flatMap(\.networks))
        var derived: [String: Set<String>] = [:]
        for rule in manifest.rules { if case .kpi(let name, let c, _) = rule.statement { derived[c, default: []].insert(name) } }

        for component in manifest.components {
            for dependency in component.dependsOn where components[dependency] == nil {
                problems.append(ManifestProblem(.unknownComponent, at: component.location,
                                                "\(component.name) depends on unknown component '\(dependency)'"))
            }
        }
        problems += dependencyCycles(manifest.components)
        for network in manifest.networks where !networks.contains(network.name) {
            problems.append(ManifestProblem(.unknownComponent, at: network.location,
                                            "networks: no component joins a network named '\(network.name)'"))
        }

        var keys: [String: SourceLocation] = [:]
        for rule in manifest.rules {
            let statement = rule.statement
            if let first = keys[statement.key] {
                problems.append(ManifestProblem(.duplicateName, at: rule.location,
                                                "\(statement.key) is already set at \(first)"))
            } else {
                keys[statement.key] = rule.location
            }
            switch statement {
            case .replicas(let c, _), .cpu(let c, _), .kpi(_, let c, _), .deploy(let c, _):
                if components[c] == nil {
                    problems.append(ManifestProblem(.unknownComponent, at: rule.location,
                                                    "\(statement.key): no component named '\(c)'"))
                }
            case .sla(let target, _):
                if components[target] == nil && !networks.contains(target) {
                    problems.append(ManifestProblem(.unknownComponent, at: rule.location,
                                                    "\(statement.key): no component or network named '\(target)'"))
                }
            case .speed(let network, _):
                if !networks.contains(network) {
                    problems.append(ManifestProblem(.unknownComponent, at: rule.location,
                                                    "\(statement.key): no component joins a network named '\(network)'"))
                }
            }
            for reference in statement.expression?.references ?? [] {
                guard let component = components[reference.component] else {
                    problems.append(ManifestProblem(.unknownComponent, at: reference.at,
                                                    "\(reference.name)(\(reference.component)): no component named "
                                                        + "'\(reference.component)'"))
                    continue
                }
                let known = Set(component.kpis).union(ServiceManifest.platformKPIs)
                    .union(derived[reference.component] ?? [])
                if !known.contains(reference.name) {
                    problems.append(ManifestProblem(
                        .unknownKPI, at: reference.at,
                        "\(reference.component) has no KPI '\(reference.name)' (it reports: "
                            + "\(known.sorted().joined(separator: ", ")); list probe KPIs under its 'kpis')"))
                }
            }
        }
        problems += derivationCycles(manifest.rules)
        if let site { problems += directiveProblems(manifest, site: site) }
        return problems
    }

    static func dependencyCycles(_ components: [ServiceManifest.Component]) -> [ManifestProblem] {
        let byName = Dictionary(components.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var problems: [ManifestProblem] = []
        func visit(_ name: String, _ path: [String]) {
            guard let component = byName[name] else { return }
            if state[name] == 2 { return }
            if state[name] == 1 {
                let cycle = path.drop { $0 != name } + [name]
                problems.append(ManifestProblem(.dependencyCycle, at: component.location,
                                                "dependency cycle: \(cycle.joined(separator: " → "))"))
                return
            }
            state[name] = 1
            for dependency in component.dependsOn { visit(dependency, path + [name]) }
            state[name] = 2
        }
        for component in components { visit(component.name, []) }
        return problems
    }

    /// A derived KPI may not depend on itself through other rules.
    static func derivationCycles(_ rules: [ServiceManifest.Rule]) -> [ManifestProblem] {
        var edges: [String: (Set<String>, SourceLocation)] = [:]
        for rule in rules {
            guard case .kpi(let name, let component, let expression) = rule.statement else { continue }
            edges["\(name)(\(component))"] = (Set(expression.references.map { "\($0.name)(\($0.component))" }),
                                              rule.location)
        }
        var problems: [ManifestProblem] = []
        var state: [String: Int] = [:]
        func visit(_ key: String) -> Bool {
            guard let (next, _) = edges[key] else { return false }
            if state[key] == 1 { return true }
            if state[key] == 2 { return false }
            state[key] = 1
            defer { state[key] = 2 }
            return next.contains { visit($0) }
        }
        for key in edges.keys.sorted() where state[key] == nil && visit(key) {
            problems.append(ManifestProblem(.dependencyCycle, at: edges[key]!.1, "\(key) is derived from itself"))
        }
        return problems
    }

    static func directiveProblems(_ manifest: ServiceManifest, site: SiteFacts) -> [ManifestProblem] {
        var problems: [ManifestProblem] = []
        for rule in manifest.rules {
            switch rule.statement {
            case .sla(_, let className) where !site.classes.contains(className):
                problems.append(ManifestProblem(.unsatisfiableDirective, at: rule.location,
                                                "this site has no SLA class '\(className)' (it has: "
                                                    + "\(site.classes.sorted().joined(separator: ", ")))"))
            case .deploy(let c, let groups):
                for group in groups where site.groups[group] == nil {
                    problems.append(ManifestProblem(.unsatisfiableDirective, at: rule.location,
                                                    "Deploy(\(c)): this site has no host group '\(group)'"))
                }
            default: break
            }
        }
        for component in manifest.components {
            let allowed = manifest.deployGroups(of: component.name) ?? Array(site.groups.keys)
            let need = Resources(cpus: manifest.cpus(of: component), memoryMiB: component.memoryMiB,
                                 diskGiB: component.diskGiB)
            let fits = allowed.contains { site.groups[$0]?.covers(need) == true }
            if !fits, component.replicas.max > 0 {
                problems.append(ManifestProblem(
                    .unsatisfiableDirective, at: component.location,
                    "no host \(manifest.deployGroups(of: component.name) == nil ? "" : "in its allowed groups ")"
                        + "can hold one \(component.name) replica (\(need.cpus) CPUs, \(need.memoryMiB) MiB, "
                        + "\(need.diskGiB) GiB)"))
            }
        }
        return problems
    }
}

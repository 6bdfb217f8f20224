import Foundation
import VMI
import Yams

/// Reads a manifest from YAML (JSON is accepted too: it is YAML). Reports every problem at once, each with its line
/// and column; unknown fields are problems too, so a typo is never silently ignored.
public enum ManifestParser {
    public static func parse(_ text: String) -> Result<ServiceManifest, ManifestProblems> {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                return .failure(ManifestProblems([ManifestProblem(.syntax, at: SourceLocation(line: 1, column: 1),
                                                                  "the manifest is empty")]))
            }
            root = node
        } catch let error as YamlError {
            return .failure(ManifestProblems([syntaxProblem(error)]))
        } catch {
            return .failure(ManifestProblems([ManifestProblem(.syntax, at: SourceLocation(line: 1, column: 1),
                                                              "\(error)")]))
        }
        var reader = Reader()
        let manifest = reader.manifest(root)
        let problems = reader.problems + (manifest.map(ManifestValidator.problems) ?? [])
        if let manifest, problems.isEmpty { return .success(manifest) }
        return .failure(ManifestProblems(problems))
    }

    static func syntaxProblem(_ error: YamlError) -> ManifestProblem {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
             .composer(_, let problem, let mark, _):
            return ManifestProblem(.syntax, at: SourceLocation(line: mark.line, column: mark.column), problem)
        default:
            return ManifestProblem(.syntax, at: SourceLocation(line: 1, column: 1), "\(error)")
        }
    }
}

/// Walks the YAML tree, collecting problems instead of stopping at the first.
struct Reader {
    var problems: [ManifestProblem] = []

    mutating func fail(_ kind: ManifestProblem.Kind, _ node: Node?, _ message: String) {
        problems.append(ManifestProblem(kind, at: node.map(Self.location) ?? SourceLocation(line: 1, column: 1),
                                        message))
    }

    static func location(_ node: Node) -> SourceLocation {
        node.mark.map { SourceLocation(line: $0.line, column: $0.column) } ?? SourceLocation(line: 1, column: 1)
    }

    /// The pairs of a mapping, with duplicate keys and unknown keys reported.
    mutating func fields(_ node: Node, _ what: String, allowed: Set<String>?) -> [(String, Node, Node)] {
        guard case .mapping(let mapping) = node else {
            fail(.invalidValue, node, "\(what) must be a mapping")
            return []
        }
        var seen = Set<String>()
        var result: [(String, Node, Node)] = []
        for (key, value) in mapping {
            guard let name = key.string else {
                fail(.invalidValue, key, "\(what) has a key that is not text")
                continue
            }
            guard seen.insert(name).inserted else {
                fail(.duplicateName, key, "'\(name)' appears twice in \(what)")
                continue
            }
            if let allowed, !allowed.contains(name) {
                fail(.unknownField, key, "unknown field '\(name)' in \(what) (known: \(allowed.sorted().joined(separator: ", ")))")
                continue
            }
            result.append((name, key, value))
        }
        return result
    }

    mutating func manifest(_ root: Node) -> ServiceManifest? {
        let top = fields(root, "the manifest", allowed: ["service", "components", "networks", "rules", "sla",
                                                          "directives"])
        let byName = Dictionary(top.map { ($0.0, ($0.1, $0.2)) }, uniquingKeysWith: { a, _ in a })
        var name = ""
        if let (_, node) = byName["service"] {
            name = text(node, "service") ?? ""
            if !name.isEmpty, !VEENames.isValid(name) {
                fail(.invalidValue, node, "service must be 1–63 letters, digits, '.', '_' or '-'")
            }
        } else {
            fail(.missingField, root, "missing field 'service' (the service's name)")
        }
        var components: [ServiceManifest.Component] = []
        if let (_, node) = byName["components"] {
            for (componentName, key, value) in fields(node, "components", allowed: nil) {
                if let component = component(componentName, key: key, value) { components.append(component) }
            }
            if components.isEmpty, case .mapping(let mapping) = node, mapping.isEmpty {
                fail(.missingField, node, "a service needs at least one component")
            }
        } else {
            fail(.missingField, root, "missing field 'components'")
        }
        var rules: [ServiceManifest.Rule] = []
        for list in ["rules", "sla", "directives"] {
            guard let (_, node) = byName[list] else { continue }
            guard case .sequence(let sequence) = node else {
                fail(.invalidValue, node, "\(list) must be a list of rules")
                continue
            }
            for item in sequence { if let rule = rule(item) { rules.append(rule) } }
        }
        var networks: [ServiceManifest.Network] = []
        if let (_, node) = byName["networks"] {
            for (networkName, key, value) in fields(node, "networks", allowed: nil) {
                networks.append(network(networkName, key: key, value))
            }
        }
        return ServiceManifest(name: name, components: components, rules: rules, networks: networks)
    }

    /// `RED: {cidr: 10.10.0.0/24}`: settings of a network its components join.
    mutating func network(_ name: String, key: Node, _ node: Node) -> ServiceManifest.Network {
        if !VEENames.isValid(name) { fail(.invalidValue, key, "network name '\(name)' must be letters, digits, '.', '_' or '-'") }
        var network = ServiceManifest.Network(name: name, subnet: nil, location: Self.location(key))
        for (field, _, value) in fields(node, "network \(name)", allowed: ["cidr"]) where field == "cidr" {
            guard let text = text(value, "cidr") else { continue }
            guard let subnet = IPv4Network(text) else {
                fail(.invalidValue, value, "cidr must be an IPv4 subnet such as 10.10.0.0/24 (no host bits set), "
                     + "got '\(text)'")
                continue
            }
            guard ServiceManifest.Network.prefixLengths.contains(subnet.prefixLength) else {
                fail(.invalidValue, value, "cidr must be a /\(ServiceManifest.Network.prefixLengths.lowerBound) to "
                     + "/\(ServiceManifest.Network.prefixLengths.upperBound), got /\(subnet.prefixLength)")
                continue
            }
            network.subnet = subnet
        }
        return network
    }

    mutating func component(_ name: String, key: Node, _ node: Node) -> ServiceManifest.Component? {
        if !VEENames.isValid(name) { fail(.invalidValue, key, "component name '\(name)' must be letters, digits, '.', '_' or '-'") }
        let allowed: Set<String> = ["cpus", "memoryMiB", "diskGiB", "image", "networks", "replicas", "kpis", "dependsOn",
                                    "userData", "keyName", "publicKeys"]
        var component = ServiceManifest.Component(
            name: name, cpus: 1, memoryMiB: 128, diskGiB: 1, image: "", networks: [],
            replicas: ServiceManifest.ReplicaBounds(initial: 1, min: 1, max: 1), kpis: [], dependsOn: [],
            context: nil, location: Self.location(key))
        var hasImage = false
        for (field, _, value) in fields(node, "component \(name)", allowed: allowed) {
            switch field {
            case "cpus": component.cpus = integer(value, "cpus", 1...VEESpecLimits.maxCPUs) ?? component.cpus
            case "memoryMiB": component.memoryMiB = integer(value, "memoryMiB", VEESpecLimits.memoryMiB) ?? 128
            case "diskGiB": component.diskGiB = integer(value, "diskGiB", 0...VEESpecLimits.maxDiskGiB) ?? 1
            case "image":
                hasImage = true
                component.image = text(value, "image") ?? ""
                // The rule a lone VEE's image follows, so that a path never reaches a host.
                if !component.image.isEmpty, !VEENames.isValid(component.image) {
                    fail(.invalidValue, value, "image must name an image (letters, digits, '.', '_', '-'), "
                         + "got '\(component.image)'")
                }
            case "networks": component.networks = names(value, "networks")
            case "kpis": component.kpis = names(value, "kpis")
            case "dependsOn": component.dependsOn = names(value, "dependsOn")
            case "replicas": component.replicas = replicas(value) ?? component.replicas
            case "userData", "keyName", "publicKeys": guestContext(field, value, into: &component)
            default: break
            }
        }
        if !hasImage { fail(.missingField, key, "component \(name) needs an image") }
        return component
    }

    /// `userData` (text, a script when it starts with `#!`), `keyName`, `publicKeys` (OpenSSH key lines).
    mutating func guestContext(_ field: String, _ node: Node, into component: inout ServiceManifest.Component) {
        var context = component.context ?? GuestContext()
        switch field {
        case "userData":
            guard let value = text(node, "userData") else { return }
            context.userData = Data(value.utf8).base64EncodedString()
        case "keyName":
            guard let value = text(node, "keyName") else { return }
            context.keyName = value
        default:
            guard case .sequence(let sequence) = node else {
                fail(.invalidValue, node, "publicKeys must be a list of OpenSSH public key lines")
                return
            }
            context.publicKeys = sequence.compactMap { item in
                guard let line = item.string, GuestContext.isPublicKeyLine(line) else {
                    fail(.invalidValue, item, "publicKeys entries must be OpenSSH public key lines "
                         + "('ssh-ed25519 AAAA… comment')")
                    return nil
                }
                return line
            }
        }
        // Sizes and counts, as the VMI checks them.
        if let problem = context.problems(at: "component").first(where: { $0.field?.hasSuffix(field) == true }) {
            fail(.invalidValue, node, "\(field) \(problem.message)")
            return
        }
        component.context = context
    }

    mutating func replicas(_ node: Node) -> ServiceManifest.ReplicaBounds? {
        if let count = node.int {
            guard count >= 0 else {
                fail(.invalidValue, node, "replicas must be zero or more")
                return nil
            }
            return ServiceManifest.ReplicaBounds(initial: count, min: count, max: count)
        }
        var bounds = ServiceManifest.ReplicaBounds(initial: -1, min: -1, max: -1)
        for (field, _, value) in fields(node, "replicas", allowed: ["initial", "min", "max"]) {
            guard let count = integer(value, "replicas.\(field)", 0...10_000) else { continue }
            switch field {
            case "initial": bounds.initial = count
            case "min": bounds.min = count
            default: bounds.max = count
            }
        }
        if bounds.min < 0 { bounds.min = max(0, min(bounds.initial, bounds.max < 0 ? 1 : bounds.max, 1)) }
        if bounds.max < 0 { bounds.max = max(bounds.min, bounds.initial) }
        if bounds.initial < 0 { bounds.initial = bounds.min }
        if bounds.min > bounds.max {
            fail(.replicaBounds, node, "replicas: min (\(bounds.min)) is greater than max (\(bounds.max))")
        } else if !(bounds.min...bounds.max).contains(bounds.initial) {
            fail(.replicaBounds, node, "replicas: initial (\(bounds.initial)) is outside \(bounds.min)...\(bounds.max)")
        }
        return bounds
    }

    mutating func rule(_ node: Node) -> ServiceManifest.Rule? {
        var ruleNode = node
        var settings: [(String, Node)] = []
        if case .mapping = node {
            let all = fields(node, "a rule", allowed: ["rule", "period", "cooldown", "tolerance", "window", "aggregate"])
            guard let found = all.first(where: { $0.0 == "rule" }) else {
                fail(.missingField, node, "a rule given as a mapping needs a 'rule' field")
                return nil
            }
            ruleNode = found.2
            settings = all.filter { $0.0 != "rule" }.map { ($0.0, $0.2) }
        }
        guard case .scalar(let scalar) = ruleNode else {
            fail(.invalidValue, ruleNode, "a rule must be text such as Replicas(C1) = RequestPerSecond(C1) / 500")
            return nil
        }
        // A plain scalar's mark is where its text starts, so expression columns line up (quoted: one further).
        var origin = Self.location(ruleNode)
        if scalar.style == .singleQuoted || scalar.style == .doubleQuoted { origin = origin.advanced(by: 1) }
        let (statement, statementProblems) = Statement.parse(scalar.string, at: origin)
        problems += statementProblems
        guard let statement else { return nil }
        var rule = ServiceManifest.Rule(statement: statement, text: scalar.string, period: .seconds(10),
                                        cooldown: .seconds(30), tolerance: 0.1, window: .seconds(60), aggregate: .avg,
                                        location: origin)
        for (field, value) in settings {
            switch field {
            case "period": rule.period = duration(value, field) ?? rule.period
            case "cooldown": rule.cooldown = duration(value, field) ?? rule.cooldown
            case "window": rule.window = duration(value, field) ?? rule.window
            case "tolerance":
                if let tolerance = value.float, tolerance >= 0 { rule.tolerance = tolerance } else {
                    fail(.invalidValue, value, "tolerance must be a fraction, e.g. 0.1")
                }
            case "aggregate":
                if let name = value.string, let aggregate = ServiceManifest.Aggregate(rawValue: name) {
                    rule.aggregate = aggregate
                } else {
                    fail(.invalidValue, value, "aggregate must be one of: "
                        + ServiceManifest.Aggregate.allCases.map(\.rawValue).joined(separator: ", "))
                }
            default: break
            }
        }
        return rule
    }

    // MARK: Scalars

    mutating func text(_ node: Node, _ field: String) -> String? {
        guard case .scalar = node, let value = node.string, !value.isEmpty else {
            fail(.invalidValue, node, "\(field) must be text")
            return nil
        }
        return value
    }

    mutating func integer(_ node: Node, _ field: String, _ range: ClosedRange<Int>) -> Int? {
        guard case .scalar = node, let value = node.int else {
            fail(.invalidValue, node, "\(field) must be a whole number")
            return nil
        }
        guard range.contains(value) else {
            fail(.invalidValue, node, "\(field) must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
            return nil
        }
        return value
    }

    mutating func names(_ node: Node, _ field: String) -> [String] {
        guard case .sequence(let sequence) = node else {
            fail(.invalidValue, node, "\(field) must be a list of names")
            return []
        }
        return sequence.compactMap { item in
            guard let name = item.string, VEENames.isValid(name) else {
                fail(.invalidValue, item, "\(field) entries must be names (letters, digits, '.', '_', '-')")
                return nil
            }
            return name
        }
    }

    /// `10s`, `2m`, `500ms`, `1h`, or a number of seconds.
    mutating func duration(_ node: Node, _ field: String) -> Duration? {
        if let seconds = node.float, seconds >= 0 { return .milliseconds(Int64(seconds * 1000)) }
        if let text = node.string {
            let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
            for (unit, factor) in units where text.hasSuffix(unit) {
                if let value = Double(text.dropLast(unit.count)), value >= 0 {
                    return .milliseconds(Int64(value * factor * 1000))
                }
            }
        }
        fail(.invalidValue, node, "\(field) must be a duration such as 10s, 2m or 500ms")
        return nil
    }
}

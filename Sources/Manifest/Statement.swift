import Foundation

/// One line of the seed's notation.
public enum Statement: Sendable, Equatable {
    /// `Replicas(C1) = RequestPerSecond(C1) / 500`: how many replicas a component should run.
    case replicas(component: String, Expression)
    /// `CPU(C1) = Users(C1) / 1000`, or a constant directive `CPU(C11) = 2`: CPUs per replica.
    case cpu(component: String, Expression)
    /// `Load(C3) = 3 * Load(C1)`, `Users(C1) = 1000`: a KPI that rules derive rather than probes report.
    case kpi(name: String, component: String, Expression)
    /// `SLA(C1) = Gold`.
    case sla(target: String, className: String)
    /// `Deploy(C11) = {Domain1, Domain3}`: the host groups (or sites) a component may run in.
    case deploy(component: String, groups: [String])
    /// `SPEED(RED) = 5MBS`: a bandwidth limit on that network's interfaces, in bytes per second.
    case speed(network: String, bytesPerSecond: Double)

    /// What the statement is about: two statements with the same key conflict.
    var key: String {
        switch self {
        case .replicas(let c, _): "Replicas(\(c))"
        case .cpu(let c, _): "CPU(\(c))"
        case .kpi(let name, let c, _): "\(name)(\(c))"
        case .sla(let t, _): "SLA(\(t))"
        case .deploy(let c, _): "Deploy(\(c))"
        case .speed(let n, _): "SPEED(\(n))"
        }
    }

    /// The right-hand expression, for the statements that have one.
    public var expression: Expression? {
        switch self {
        case .replicas(_, let e), .cpu(_, let e), .kpi(_, _, let e): e
        case .sla, .deploy, .speed: nil
        }
    }

    /// Parses one statement; problems carry manifest locations.
    static func parse(_ text: String, at origin: SourceLocation) -> (Statement?, [ManifestProblem]) {
        var parser = ExpressionParser(text, at: origin)
        guard let (name, argument, _) = parser.call() else { return (nil, parser.problems) }
        guard parser.consume("=") else {
            parser.fail("expected '=' after \(name)(\(argument))")
            return (nil, parser.problems)
        }
        let statement: Statement?
        switch name.lowercased() {
        case "sla":
            let className = parser.rest()
            if className.isEmpty || !className.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) {
                parser.fail("SLA(\(argument)) takes a class name, e.g. Gold")
                statement = nil
            } else {
                statement = .sla(target: argument, className: className)
            }
        case "deploy":
            statement = parser.groupList().map { .deploy(component: argument, groups: $0) }
        case "speed":
            statement = parser.rate().map { .speed(network: argument, bytesPerSecond: $0) }
        default:
            guard let expression = parser.expression() else { statement = nil; break }
            if !parser.atEnd { parser.fail("unexpected text after the expression") }
            switch name.lowercased() {
            case "replicas": statement = .replicas(component: argument, expression)
            case "cpu": statement = .cpu(component: argument, expression)
            default: statement = .kpi(name: name, component: argument, expression)
            }
        }
        if statement != nil, !parser.atEnd { parser.fail("unexpected text at the end of the rule") }
        // A division by a constant zero still leaves a well-formed statement: keep it, so its names are checked too.
        let wellFormed = parser.problems.allSatisfy { $0.kind == .divisionByZero }
        return (wellFormed ? statement : nil, parser.problems)
    }
}

extension ExpressionParser {
    /// `{Domain1, Domain 3}`: names may contain spaces, which are kept.
    mutating func groupList() -> [String]? {
        guard consume("{") else {
            fail("Deploy takes a set of host groups, e.g. {Domain1, Domain3}")
            return nil
        }
        let text = rest()
        guard text.hasSuffix("}") else {
            fail("expected '}' to close the set of host groups")
            return nil
        }
        let groups = text.dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !groups.isEmpty, groups.allSatisfy({ !$0.isEmpty }) else {
            fail("the set of host groups is empty or has an empty name")
            return nil
        }
        return groups
    }

    /// `5MBS`, `100 KBS`, `1GBS` (bytes per second), `20Mbps` (bits per second).
    mutating func rate() -> Double? {
        guard let value = number() else {
            fail("SPEED takes a rate such as 5MBS")
            return nil
        }
        let unit = rest()
        let factors: [String: Double] = ["BS": 1, "KBS": 1e3, "MBS": 1e6, "GBS": 1e9,
                                         "bps": 1 / 8, "Kbps": 1e3 / 8, "Mbps": 1e6 / 8, "Gbps": 1e9 / 8]
        guard let factor = factors[unit] ?? factors[unit.uppercased()] else {
            fail("unknown rate unit '\(unit)' (use BS, KBS, MBS, GBS for bytes or bps, Kbps, Mbps, Gbps for bits per second)")
            return nil
        }
        guard value > 0 else {
            fail("a speed limit must be above zero")
            return nil
        }
        return value * factor
    }
}

import Foundation

/// A rule's right-hand side: arithmetic over numbers and KPI references.
public indirect enum Expression: Sendable, Equatable {
    case number(Double)
    /// `RequestPerSecond(C1)`: a KPI of a component (a probe's, a platform metric, or one a rule derives).
    case kpi(name: String, component: String, at: SourceLocation)
    case negate(Expression)
    case binary(Operator, Expression, Expression)
    /// `min`, `max` (two or more arguments), `ceil`, `floor` (one).
    case call(Function, [Expression])

    public enum Operator: Character, Sendable { case add = "+", subtract = "-", multiply = "*", divide = "/" }
    public enum Function: String, Sendable, CaseIterable { case min, max, ceil, floor }

    /// The value, reading KPIs from `kpi`. Division by zero yields 0 for a KPI that is momentarily zero
    /// (constant zeros are refused when the manifest is validated).
    public func evaluate(_ kpi: (String, String) -> Double) -> Double {
        switch self {
        case .number(let value): return value
        case .kpi(let name, let component, _): return kpi(name, component)
        case .negate(let inner): return -inner.evaluate(kpi)
        case .binary(let op, let a, let b):
            let (x, y) = (a.evaluate(kpi), b.evaluate(kpi))
            switch op {
            case .add: return x + y
            case .subtract: return x - y
            case .multiply: return x * y
            case .divide: return y == 0 ? 0 : x / y
            }
        case .call(let function, let arguments):
            let values = arguments.map { $0.evaluate(kpi) }
            switch function {
            case .min: return values.min() ?? 0
            case .max: return values.max() ?? 0
            case .ceil: return (values.first ?? 0).rounded(.up)
            case .floor: return (values.first ?? 0).rounded(.down)
            }
        }
    }

    /// The value when the expression reads no KPI; nil otherwise.
    public var constantValue: Double? {
        references.isEmpty ? evaluate { _, _ in 0 } : nil
    }

    /// Every KPI the expression reads, in order.
    public var references: [(name: String, component: String, at: SourceLocation)] {
        switch self {
        case .number: return []
        case .kpi(let name, let component, let at): return [(name, component, at)]
        case .negate(let inner): return inner.references
        case .binary(_, let a, let b): return a.references + b.references
        case .call(_, let arguments): return arguments.flatMap(\.references)
        }
    }
}

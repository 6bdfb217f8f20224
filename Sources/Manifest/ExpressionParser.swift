import Foundation

/// Parses the seed's rule notation, `Name(Arg) = right-hand side`, reporting every problem at its column.
struct ExpressionParser {
    private let scalars: [Unicode.Scalar]
    private let origin: SourceLocation
    private var index = 0
    private(set) var problems: [ManifestProblem] = []
    /// How deep parentheses, calls and signs nest here: bounded, so that no input can exhaust the stack.
    private var depth = 0
    static let maxDepth = 64

    /// `origin` is where `text` starts in the manifest.
    init(_ text: String, at origin: SourceLocation) {
        scalars = Array(text.unicodeScalars)
        self.origin = origin
    }

    var location: SourceLocation { origin.advanced(by: index) }
    var atEnd: Bool {
        var probe = index
        while probe < scalars.count, scalars[probe] == " " || scalars[probe] == "\t" { probe += 1 }
        return probe >= scalars.count
    }

    mutating func fail(_ message: String, at location: SourceLocation? = nil,
                       kind: ManifestProblem.Kind = .expression) {
        problems.append(ManifestProblem(kind, at: location ?? self.location, message))
    }

    /// `Name(Argument)` as on a rule's left side.
    mutating func call() -> (name: String, argument: String, at: SourceLocation)? {
        skipSpaces()
        let at = location
        guard let name = identifier() else {
            fail("expected a rule such as Replicas(C1) = …")
            return nil
        }
        guard consume("(") else {
            fail("expected '(' after \(name)")
            return nil
        }
        skipSpaces()
        guard let argument = identifier() else {
            fail("expected a component or network name inside \(name)(…)")
            return nil
        }
        guard consume(")") else {
            fail("expected ')' after \(name)(\(argument)")
            return nil
        }
        return (name, argument, at)
    }

    mutating func consume(_ character: Unicode.Scalar) -> Bool {
        skipSpaces()
        guard index < scalars.count, scalars[index] == character else { return false }
        index += 1
        return true
    }

    /// The rest of the text, trimmed.
    mutating func rest() -> String {
        skipSpaces()
        defer { index = scalars.count }
        return String(String.UnicodeScalarView(scalars[index...])).trimmingTrailingSpaces
    }

    // MARK: Arithmetic

    mutating func expression() -> Expression? {
        guard var left = term() else { return nil }
        while true {
            if consume("+") {
                guard let right = term() else { return nil }
                left = .binary(.add, left, right)
            } else if consume("-") {
                guard let right = term() else { return nil }
                left = .binary(.subtract, left, right)
            } else {
                return left
            }
        }
    }

    private mutating func term() -> Expression? {
        guard var left = unary() else { return nil }
        while true {
            skipSpaces()
            let at = location
            if consume("*") {
                guard let right = unary() else { return nil }
                left = .binary(.multiply, left, right)
            } else if consume("/") {
                guard let right = unary() else { return nil }
                if right.constantValue == 0 { fail("division by zero", at: at, kind: .divisionByZero) }
                left = .binary(.divide, left, right)
            } else {
                return left
            }
        }
    }

    private mutating func unary() -> Expression? {
        if consume("-") {
            guard enter() else { return nil }
            defer { depth -= 1 }
            return unary().map(Expression.negate)
        }
        return primary()
    }

    /// One level deeper; false (with the problem reported) past `maxDepth`.
    private mutating func enter() -> Bool {
        depth += 1
        guard depth <= Self.maxDepth else {
            fail("the expression nests more than \(Self.maxDepth) levels deep")
            return false
        }
        return true
    }

    private mutating func primary() -> Expression? {
        guard enter() else { return nil }
        defer { depth -= 1 }
        skipSpaces()
        let at = location
        if consume("(") {
            guard let inner = expression() else { return nil }
            guard consume(")") else {
                fail("expected ')'")
                return nil
            }
            return inner
        }
        if let value = number() { return .number(value) }
        guard let name = identifier() else {
            fail(index < scalars.count ? "unexpected '\(scalars[index])'" : "expression ends too early")
            return nil
        }
        guard consume("(") else {
            fail("expected '(' after \(name): a KPI reads like \(name)(C1)")
            return nil
        }
        if let function = Expression.Function(rawValue: name.lowercased()) {
            var arguments: [Expression] = []
            repeat {
                guard let argument = expression() else { return nil }
                arguments.append(argument)
            } while consume(",")
            guard consume(")") else {
                fail("expected ')' to close \(name)(…)")
                return nil
            }
            let oneArgument = function == .ceil || function == .floor
            if oneArgument ? arguments.count != 1 : arguments.count < 2 {
                fail("\(name) takes \(oneArgument ? "one argument" : "two or more arguments")", at: at)
            }
            return .call(function, arguments)
        }
        skipSpaces()
        guard let component = identifier() else {
            fail("expected a component name in \(name)(…)")
            return nil
        }
        guard consume(")") else {
            fail("expected ')' after \(name)(\(component)")
            return nil
        }
        return .kpi(name: name, component: component, at: at)
    }

    // MARK: Tokens

    mutating func identifier() -> String? {
        skipSpaces()
        let start = index
        while index < scalars.count,
              scalars[index].properties.isAlphabetic || (index > start && scalars[index].properties.numericType != nil)
                || scalars[index] == "_" || (index > start && (scalars[index] == "." || scalars[index] == "-")) {
            index += 1
        }
        return index > start ? String(String.UnicodeScalarView(scalars[start..<index])) : nil
    }

    mutating func number() -> Double? {
        skipSpaces()
        let start = index
        while index < scalars.count, ("0"..."9").contains(scalars[index]) || scalars[index] == "." { index += 1 }
        guard index > start else { return nil }
        guard let value = Double(String(String.UnicodeScalarView(scalars[start..<index]))) else {
            index = start
            return nil
        }
        return value
    }

    mutating func skipSpaces() {
        while index < scalars.count, scalars[index] == " " || scalars[index] == "\t" { index += 1 }
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var result = self
        while result.last == " " || result.last == "\t" { result.removeLast() }
        return result
    }
}

/// A place in a manifest's text (1-based, columns in Unicode scalars).
public struct SourceLocation: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool { (a.line, a.column) < (b.line, b.column) }

    /// `offset` scalars further along the same line.
    public func advanced(by offset: Int) -> SourceLocation { SourceLocation(line: line, column: column + offset) }

    public var description: String { "\(line):\(column)" }
}

/// One thing wrong with a manifest, where it is and why.
public struct ManifestProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case syntax, unknownComponent, unknownKPI, dependencyCycle, replicaBounds, unsatisfiableDirective,
             expression, divisionByZero, duplicateName, invalidValue, missingField, unknownField
    }

    public var kind: Kind
    public var location: SourceLocation
    public var message: String

    public init(_ kind: Kind, at location: SourceLocation, _ message: String) {
        self.kind = kind
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }
}

/// Every problem found, in text order. A manifest with any is rejected whole.
public struct ManifestProblems: Error, Sendable, CustomStringConvertible {
    public var all: [ManifestProblem]

    public init(_ all: [ManifestProblem]) { self.all = all.sorted { $0.location < $1.location } }

    public var description: String { all.map(\.description).joined(separator: "\n") }
}

import Foundation

/// libFuzzer entry: any text as a line of the seed's rule notation in a manifest (`Replicas(C1) = …`,
/// `Deploy(C11) = {…}`, `SPEED(RED) = 5MBS`), and each parsed expression evaluated over made-up KPI values.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifestExpression(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let (statement, problems) = Statement.parse(text, at: SourceLocation(line: 1, column: 1))
    _ = problems.map(\.description)
    let expression: Expression?
    switch statement {
    case .replicas(_, let rule)?, .cpu(_, let rule)?, .kpi(_, _, let rule)?: expression = rule
    default: expression = nil
    }
    if let expression {
        _ = expression.evaluate { name, _ in Double(name.count) - 3 }
        _ = expression.references
    }
    return 0
}

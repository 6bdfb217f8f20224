import Foundation

/// The enum the SigV4 extensions hang on; the real one (Sources/EC2/SigV4.swift) needs swift-crypto.
enum SigV4 {}

/// libFuzzer entry: any text as what a client sends before the signature is checked: the Authorization header on
/// the first line, X-Amz-Date on the second, the query string on the rest.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSigV4Header(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let lines = text.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
    _ = try? SigV4.parse(lines[0])
    if lines.count > 1 { _ = SigV4.parseAmzDate(lines[1]) }
    if lines.count > 2 { _ = SigV4.canonicalQuery(lines[2]) }
    _ = SigV4.foldSpaces(text)
    return 0
}

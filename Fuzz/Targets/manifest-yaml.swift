import Foundation

/// libFuzzer entry: any text as a whole service manifest (YAML through Yams and libyaml, then the seed's notation in
/// its rules and directives), and a manifest that parses validated.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifestYAML(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    switch ManifestParser.parse(text) {
    case .success(let manifest):
        _ = ManifestValidator.problems(manifest).map(\.description)
    case .failure(let problems):
        _ = problems.description
    }
    return 0
}

import Foundation

/// libFuzzer entry: any text as an EC2 Query form body, and the accessors actions use on it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEC2QueryForm(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let form = QueryForm(String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self))
    for name in form.values.keys.prefix(8) {
        _ = try? form.required(name)
        _ = try? form.integer(name)
    }
    return 0
}

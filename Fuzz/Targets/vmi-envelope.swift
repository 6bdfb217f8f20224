import Foundation

/// libFuzzer entry: any bytes as a VMI message, as the coordinator and agents take them off a queue. Refusals are
/// fine; a crash, a hang or a sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVMIEnvelope(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? VMI.decodeHeader(bytes)
    if let message = try? VMI.open(bytes) { _ = try? message.body(as: VEEUpdate.self) }
    _ = try? VMI.decodeDocument(SubmitVEEs.self, from: Data(bytes))
    return 0
}

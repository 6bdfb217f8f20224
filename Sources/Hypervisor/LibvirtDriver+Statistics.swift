import CLibvirt
import Foundation

extension LibvirtDriver {
    /// One `virConnectGetAllDomainStats` call for all running domains; numeric fields only, keyed by UUID.
    public func statistics() async throws -> [String: [String: Double]] {
        try await pool.run { () throws -> [String: [String: Double]] in
            var records: UnsafeMutablePointer<virDomainStatsRecordPtr?>?
            let groups = VIR_DOMAIN_STATS_STATE.rawValue | VIR_DOMAIN_STATS_CPU_TOTAL.rawValue
                | VIR_DOMAIN_STATS_BALLOON.rawValue | VIR_DOMAIN_STATS_VCPU.rawValue
            let count = virConnectGetAllDomainStats(try self.connection.pointer, groups, &records,
                                                    VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE.rawValue)
            guard count >= 0, let records else { throw HypervisorError.last("virConnectGetAllDomainStats") }
            defer { virDomainStatsRecordListFree(records) }
            var result: [String: [String: Double]] = [:]
            for index in 0..<Int(count) {
                guard let record = records[index]?.pointee else { continue }
                var uuid = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
                guard virDomainGetUUIDString(record.dom, &uuid) == 0 else { continue }
                var fields: [String: Double] = [:]
                for p in 0..<Int(record.nparams) {
                    let param = record.params[p]
                    let name = withUnsafeBytes(of: param.field) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                    switch UInt32(param.type) {
                    case VIR_TYPED_PARAM_INT.rawValue: fields[name] = Double(param.value.i)
                    case VIR_TYPED_PARAM_UINT.rawValue: fields[name] = Double(param.value.ui)
                    case VIR_TYPED_PARAM_LLONG.rawValue: fields[name] = Double(param.value.l)
                    case VIR_TYPED_PARAM_ULLONG.rawValue: fields[name] = Double(param.value.ul)
                    case VIR_TYPED_PARAM_DOUBLE.rawValue: fields[name] = param.value.d
                    case VIR_TYPED_PARAM_BOOLEAN.rawValue: fields[name] = Double(param.value.b)
                    default: continue
                    }
                }
                result[String(cString: uuid)] = fields
            }
            return result
        }
    }
}

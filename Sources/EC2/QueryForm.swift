/// An EC2 Query request's parameters (`Action=RunInstances&ImageId=ami-…&Filter.1.Name=…`), decoded from an
/// `application/x-www-form-urlencoded` body or query string.
public struct QueryForm: Sendable, Equatable {
    public private(set) var values: [String: String]

    public init(_ encoded: String) {
        var values: [String: String] = [:]
        for pair in encoded.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            values[formDecode(parts[0])] = formDecode(parts.count > 1 ? parts[1] : "")
        }
        self.values = values
    }

    /// Parameters already decoded (as a gateway forwards them).
    public init(values: [String: String]) { self.values = values }

    public subscript(name: String) -> String? { values[name] }

    public func required(_ name: String) throws(EC2Error) -> String {
        guard let value = values[name], !value.isEmpty else { throw .missingParameter(name) }
        return value
    }

    public func integer(_ name: String, default fallback: Int? = nil) throws(EC2Error) -> Int {
        guard let text = values[name] else {
            if let fallback { return fallback }
            throw .missingParameter(name)
        }
        guard let value = Int(text) else { throw .invalidParameterValue(name, "'\(text)' is not a whole number") }
        return value
    }

    public func bool(_ name: String) -> Bool { values[name]?.lowercased() == "true" }

    /// `Name.1`, `Name.2`, … in order (`InstanceId.N`, `SecurityGroup.N`).
    public func list(_ name: String) -> [String] {
        indices(of: name).compactMap { values["\(name).\($0)"] }
    }

    /// `Filter.N.Name` and `Filter.N.Value.M`, as name → values.
    public func filters() -> [(name: String, values: [String])] {
        indices(of: "Filter").compactMap { index in
            guard let name = values["Filter.\(index).Name"] else { return nil }
            return (name, list("Filter.\(index).Value"))
        }
    }

    /// `Prefix.N.Key`/`Prefix.N.Value` pairs (`Tag.N`, `TagSpecification.1.Tag.N`).
    public func tags(_ prefix: String = "Tag") -> [(key: String, value: String)] {
        indices(of: prefix).compactMap { index in
            values["\(prefix).\(index).Key"].map { ($0, values["\(prefix).\(index).Value"] ?? "") }
        }
    }

    /// The N of every `prefix.N…` parameter, ascending.
    public func indices(of prefix: String) -> [Int] {
        let start = prefix + "."
        var found = Set<Int>()
        for key in values.keys where key.hasPrefix(start) {
            let rest = key.dropFirst(start.count)
            if let number = Int(rest.prefix { $0.isNumber }), number > 0 { found.insert(number) }
        }
        return found.sorted()
    }
}

/// `+` is a space; `%XX` a byte; bad escapes are kept as they are.
func formDecode<S: StringProtocol>(_ text: S) -> String {
    var bytes: [UInt8] = []
    var iterator = Array(text.utf8).makeIterator()
    while let byte = iterator.next() {
        if byte == UInt8(ascii: "+") {
            bytes.append(UInt8(ascii: " "))
        } else if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                  let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
            bytes.append(value)
        } else {
            bytes.append(byte)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

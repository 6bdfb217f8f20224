import Foundation

/// What Foundation leaves unsaid about bad JSON: the field of a number that does not fit the type it decodes to
/// (`1.5` or `1e30` for an Int; JSONDecoder says only "The given data was not valid JSON.", with no coding path),
/// and the line and column of a syntax error.
enum JSONProblem {
    /// The path (`body.vee.cpus`) of the first number in `bytes` whose replacement by 0 makes `fails` stop failing
    /// the same way; nil when the text is not JSON at all or no number is to blame. Runs only on the error path.
    static func locate(in bytes: [UInt8], fails: (Data) -> Bool) -> (path: String, number: String)? {
        guard let tree = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else {
            return nil
        }
        var candidates: [(path: [PathItem], number: String)] = []
        collect(tree, path: [], into: &candidates)
        for candidate in candidates.prefix(64) {
            let patched = replacing(tree, at: candidate.path[...])
            guard let data = try? JSONSerialization.data(withJSONObject: patched, options: [.fragmentsAllowed]) else {
                continue
            }
            if !fails(data) { return (render(candidate.path), candidate.number) }
        }
        return nil
    }

    /// Where text that is not JSON goes wrong ("line 2, column 6: Invalid value"), from the character offset
    /// JSONSerialization names; nil when the text is JSON.
    static func syntaxProblem(in bytes: [UInt8]) -> String? {
        let error: NSError
        do {
            _ = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            return nil
        } catch let failure as NSError {
            error = failure
        }
        let detail = (error.userInfo[NSDebugDescriptionErrorKey] as? String) ?? error.localizedDescription
        guard let range = detail.range(of: "around character "),
              let offset = Int(detail[range.upperBound...].prefix { $0.isNumber }) else { return detail }
        let before = bytes.prefix(offset)
        let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
        let column = before.count - (before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
        let what = detail[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
        return "line \(line), column \(column): \(what.isEmpty ? detail : what)"
    }

    enum PathItem {
        case key(String)
        case index(Int)
    }

    private static func collect(_ value: Any, path: [PathItem], into found: inout [(path: [PathItem], number: String)]) {
        switch value {
        case let object as [String: Any]:
            for key in object.keys.sorted() { collect(object[key]!, path: path + [.key(key)], into: &found) }
        case let array as [Any]:
            for (index, item) in array.enumerated() { collect(item, path: path + [.index(index)], into: &found) }
        case is Bool, is String, is NSNull:
            return
        case let number as Int:
            _ = number  // whole and in range: it fits
        case let number as Double:
            found.append((path, "\(number)"))
        case let number as NSNumber:
            found.append((path, number.stringValue))
        default:
            // Decimal and other number forms Foundation may give for very long literals.
            found.append((path, "\(value)"))
        }
    }

    private static func replacing(_ value: Any, at path: ArraySlice<PathItem>) -> Any {
        guard let first = path.first else { return 0 }
        switch (first, value) {
        case (.key(let key), var object as [String: Any]):
            if let inner = object[key] { object[key] = replacing(inner, at: path.dropFirst()) }
            return object
        case (.index(let index), var array as [Any]) where array.indices.contains(index):
            array[index] = replacing(array[index], at: path.dropFirst())
            return array
        default:
            return value
        }
    }

    private static func render(_ path: [PathItem]) -> String {
        let joined = path.map { item -> String in
            switch item {
            case .key(let key): return "." + key
            case .index(let index): return "[\(index)]"
            }
        }.joined()
        return joined.hasPrefix(".") ? String(joined.dropFirst()) : joined
    }
}

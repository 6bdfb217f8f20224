import EC2

/// `Filter.N.Name` / `Filter.N.Value.M` as EC2 applies them: every filter must match (AND), any of its values may
/// (OR); values may use `*` and `?` wildcards; `tag:Key`, `tag-key` and `tag-value` work on every resource.
struct Filters {
    var filters: [(name: String, values: [String])]

    init(_ form: QueryForm) { filters = form.filters() }

    /// Refuses filter names the resource type does not know (`known`), even when there is nothing to filter.
    func check(_ known: some Collection<String>) throws {
        for filter in filters where !filter.name.hasPrefix("tag:") && filter.name != "tag-key"
            && filter.name != "tag-value" && !known.contains(filter.name) {
            throw EC2Error("InvalidParameterValue", "The filter '\(filter.name)' is invalid")
        }
    }

    /// Whether a resource passes. `values` gives a filter's values for the resource (nil: unknown name).
    func match(tags: [(key: String, value: String)], _ values: (String) -> [String]?) throws -> Bool {
        for filter in filters {
            let candidates: [String]
            if filter.name.hasPrefix("tag:") {
                let key = String(filter.name.dropFirst(4))
                candidates = tags.filter { $0.key == key }.map(\.value)
            } else if filter.name == "tag-key" {
                candidates = tags.map(\.key)
            } else if filter.name == "tag-value" {
                candidates = tags.map(\.value)
            } else if let known = values(filter.name) {
                candidates = known
            } else {
                throw EC2Error("InvalidParameterValue", "The filter '\(filter.name)' is invalid")
            }
            guard filter.values.contains(where: { pattern in candidates.contains { Self.glob(pattern, $0) } }) else {
                return false
            }
        }
        return true
    }

    /// `*` any run, `?` any one character, `\` escapes the next.
    static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern), t = Array(text)
        func match(_ i: Int, _ j: Int) -> Bool {
            if i == p.count { return j == t.count }
            switch p[i] {
            case "*":
                return (j...t.count).contains { match(i + 1, $0) }
            case "?":
                return j < t.count && match(i + 1, j + 1)
            case "\\" where i + 1 < p.count:
                return j < t.count && t[j] == p[i + 1] && match(i + 2, j + 1)
            default:
                return j < t.count && t[j] == p[i] && match(i + 1, j + 1)
            }
        }
        return match(0, 0)
    }
}

extension CloudCall {
    /// The resources that pass the call's filters; `known` maps each filter name the type takes to its values.
    func filtered<T>(_ items: [T], id: (T) -> String, _ known: [String: (T) -> [String]]) throws -> [T] {
        let filters = Filters(form)
        guard !filters.filters.isEmpty else { return items }
        try filters.check(known.keys)
        let tags = try self.tags
        return try items.filter { item in try filters.match(tags: tags[id(item)] ?? []) { known[$0]?(item) } }
    }
}

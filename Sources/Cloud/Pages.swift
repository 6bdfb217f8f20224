import EC2
import Foundation

/// `MaxResults` / `NextToken` as EC2 pages a Describe: pages follow a sort key that new resources do not disturb
/// (creation time, then id), and a token says "after this key", so that resources added between pages never make
/// one appear twice or go missing. Without either parameter the answer is whole, in its usual order.
struct Page {
    var maxResults: Int?
    var after: String?

    /// `idName` is the action's own id list (`InstanceId`), which EC2 does not combine with MaxResults.
    init(_ form: QueryForm, idsGiven: Bool, idName: String, range: ClosedRange<Int> = 5...1000) throws {
        if form["MaxResults"] != nil {
            let value = try form.integer("MaxResults")
            guard range.contains(value) else {
                throw EC2Error.invalidParameterValue("MaxResults", "must be between \(range.lowerBound) and "
                    + "\(range.upperBound), got \(value)")
            }
            guard !idsGiven else {
                throw EC2Error("InvalidParameterCombination",
                               "The parameter \(idName) cannot be used with the parameter MaxResults")
            }
            maxResults = value
        }
        if let token = form["NextToken"] {
            guard let data = Data(base64Encoded: token), let key = String(data: data, encoding: .utf8),
                  key.hasPrefix("veem1:") else {
                throw EC2Error("InvalidPaginationToken", "The pagination token '\(token)' is not valid")
            }
            after = String(key.dropFirst("veem1:".count))
        }
    }

    var paginating: Bool { maxResults != nil || after != nil }

    /// The page of `items` and the key to continue after, if more remain.
    func slice<T>(_ items: [T], key: (T) -> String) -> ([T], next: String?) {
        guard paginating else { return (items, nil) }
        let sorted = items.map { (key($0), $0) }.sorted { $0.0 < $1.0 }.filter { after == nil || $0.0 > after! }
        let limit = maxResults ?? 1000
        guard sorted.count > limit else { return (sorted.map(\.1), nil) }
        return (sorted.prefix(limit).map(\.1), sorted[limit - 1].0)
    }

    /// `nextToken` for the answer when there is a next page.
    func token(_ next: String?) -> [EC2XML.Node] {
        next.map { [.text("nextToken", Data("veem1:\($0)".utf8).base64EncodedString())] } ?? []
    }

    /// A sort key of creation time, then id.
    static func key(_ date: Date, _ id: String) -> String {
        String(format: "%020.6f/", date.timeIntervalSince1970) + id
    }
}

/// What SigV4 needs of an HTTP request, as received.
public struct SignedRequest: Sendable {
    public var method: String
    /// The path as sent (percent-encoded), e.g. `/`.
    public var path: String
    /// The raw query string after `?` (may be empty).
    public var query: String
    /// Header names as sent (any case) with their values; repeated names allowed.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)],
                body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

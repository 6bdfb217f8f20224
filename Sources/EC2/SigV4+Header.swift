import Foundation

/// What SigV4 reads from a request before any cryptography: the `Authorization` header, `X-Amz-Date`, and the
/// canonical query. Kept apart from the signing (swift-crypto) so that it can be fuzzed on its own (Fuzz/).
extension SigV4 {
    /// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
    public struct Authorization: Sendable, Equatable {
        public var accessKey: String
        public var date: String
        public var region: String
        public var service: String
        public var signedHeaders: [String]
        public var signature: String
    }

    static func parse(_ header: String) throws(EC2Error) -> Authorization {
        let prefix = "AWS4-HMAC-SHA256 "
        guard header.hasPrefix(prefix) else {
            throw EC2Error("IncompleteSignature", "only AWS4-HMAC-SHA256 signatures are accepted")
        }
        var fields: [String: String] = [:]
        for part in header.dropFirst(prefix.count).split(separator: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
        }
        guard let credential = fields["Credential"], let signed = fields["SignedHeaders"],
              let signature = fields["Signature"]
        else { throw EC2Error("IncompleteSignature", "Authorization needs Credential, SignedHeaders and Signature") }
        let scope = credential.split(separator: "/").map(String.init)
        guard scope.count == 5, scope[4] == "aws4_request" else {
            throw EC2Error("IncompleteSignature", "Credential must be KEY/DATE/REGION/SERVICE/aws4_request")
        }
        let headers = signed.split(separator: ";").map { $0.lowercased() }
        guard headers.contains("host") else {
            throw EC2Error("IncompleteSignature", "the Host header must be signed")
        }
        return Authorization(accessKey: scope[0], date: scope[1], region: scope[2], service: scope[3],
                             signedHeaders: headers, signature: signature)
    }

    /// `20150830T123600Z`.
    static func parseAmzDate(_ text: String) -> Date? {
        let digits = Array(text.utf8)
        guard digits.count == 16, digits[8] == UInt8(ascii: "T"), digits[15] == UInt8(ascii: "Z") else { return nil }
        let iso = "\(text.prefix(4))-\(text.dropFirst(4).prefix(2))-\(text.dropFirst(6).prefix(2))T"
            + "\(text.dropFirst(9).prefix(2)):\(text.dropFirst(11).prefix(2)):\(text.dropFirst(13).prefix(2))Z"
        return try? Date.ISO8601FormatStyle().parse(iso)
    }

    static func canonicalQuery(_ query: String) -> String {
        query.split(separator: "&", omittingEmptySubsequences: true).map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            return (uriEncode(formDecode(parts[0])), uriEncode(formDecode(parts.count > 1 ? parts[1] : "")))
        }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// RFC 3986 unreserved characters stay; everything else is %XX (upper-case hex).
    static func uriEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                 UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    static func foldSpaces(_ value: String) -> String {
        value.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true)
            .joined(separator: " ")
    }
}

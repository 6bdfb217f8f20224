import Crypto
import Foundation
import Synchronization
import VMI

/// AWS Signature Version 4, as a server checks it: rebuild the canonical request from what arrived, sign it with the
/// secret of the access key the credential names, and compare in constant time.
public enum SigV4 {
    /// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
    public struct Authorization: Sendable, Equatable {
        public var accessKey: String
        public var date: String
        public var region: String
        public var service: String
        public var signedHeaders: [String]
        public var signature: String
    }

    /// Checks `request`; returns the access key it was signed with. `secret` looks a key's secret up (nil: unknown).
    /// `skew`: how far `X-Amz-Date` may be from `now` (nil switches the check off, for test rigs).
    public static func verify(_ request: SignedRequest, service: String, now: Date, skew: TimeInterval?,
                              secret: (String) -> String?) throws(EC2Error) -> Authorization {
        let proof = try proof(request, service: service, now: now, skew: skew)
        guard let key = secret(proof.accessKey) else { throw Proof.unknownKey }
        try proof.check(secret: key)
        return proof.authorization
    }

    /// Everything about `request` that does not need the secret: the header parsed, the date checked against the
    /// skew window, and the string to sign built over the raw body. Whoever holds the secret finishes the check
    /// with `Proof.check(secret:)`, so the secret need not travel.
    public static func proof(_ request: SignedRequest, service: String, now: Date,
                             skew: TimeInterval?) throws(EC2Error) -> Proof {
        guard let header = request.header("Authorization") else {
            throw EC2Error("AuthFailure", "AWS was not able to validate the provided access credentials "
                + "(no Authorization header)", status: 401)
        }
        let authorization = try parse(header)
        guard authorization.service == service else {
            throw EC2Error("SignatureDoesNotMatch", "the credential scope names service '\(authorization.service)', "
                + "not '\(service)'", status: 403)
        }
        guard let amzDate = request.header("X-Amz-Date"), let signedAt = parseAmzDate(amzDate),
              amzDate.hasPrefix(authorization.date)
        else {
            throw EC2Error("IncompleteSignature", "X-Amz-Date is missing, malformed, or not the credential's date")
        }
        if let skew, abs(signedAt.timeIntervalSince(now)) > skew {
            throw EC2Error("RequestExpired", "Request has expired: signed at \(amzDate), more than "
                + "\(Int(skew)) s from the server's time")
        }
        return Proof(authorization: authorization,
                     stringToSign: stringToSign(request, authorization: authorization, amzDate: amzDate))
    }

    /// A signature with the string it claims to sign (VMI's `EC2Signature`): checkable by whoever holds the
    /// access key's secret.
    public typealias Proof = EC2Signature

    /// The hex signature of `request` under `authorization`'s scope and signed headers.
    public static func signature(_ request: SignedRequest, authorization: Authorization, amzDate: String,
                                 secret: String) -> String {
        sign(stringToSign(request, authorization: authorization, amzDate: amzDate), authorization: authorization,
             secret: secret)
    }

    static func stringToSign(_ request: SignedRequest, authorization: Authorization, amzDate: String) -> String {
        let scope = "\(authorization.date)/\(authorization.region)/\(authorization.service)/aws4_request"
        let canonical = canonicalRequest(request, signedHeaders: authorization.signedHeaders)
        return ["AWS4-HMAC-SHA256", amzDate, scope, hex(SHA256.hash(data: Array(canonical.utf8)))]
            .joined(separator: "\n")
    }

    static func sign(_ stringToSign: String, authorization: Authorization, secret: String) -> String {
        let key = SymmetricKey(data: signingKey(secret: secret, date: authorization.date, region: authorization.region,
                                                service: authorization.service))
        return hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    /// The key a secret derives for one day, region and service (four HMACs). Kept, as AWS's SDKs keep it: a
    /// client signs many requests a day with one key.
    static func signingKey(secret: String, date: String, region: String, service: String) -> [UInt8] {
        let scope = [secret, date, region, service].joined(separator: "\n")
        if let key = signingKeys.withLock({ $0[scope] }) { return key }
        var key = SymmetricKey(data: Array("AWS4\(secret)".utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let bytes = key.withUnsafeBytes { Array($0) }
        signingKeys.withLock { keys in
            if keys.count >= 10_000 { keys.removeAll(keepingCapacity: true) }
            keys[scope] = bytes
        }
        return bytes
    }

    private static let signingKeys = Mutex<[String: [UInt8]]>([:])

    /// Method, path, sorted query, the signed headers (lower-cased names, trimmed values with inner runs of spaces
    /// folded), their names, and the payload hash.
    public static func canonicalRequest(_ request: SignedRequest, signedHeaders: [String]) -> String {
        let headers = signedHeaders.map { name in
            let values = request.headers.filter { $0.name.lowercased() == name }.map { foldSpaces($0.value) }
            return "\(name):\(values.joined(separator: ","))\n"
        }.joined()
        // Always the hash of what arrived: a client's X-Amz-Content-Sha256 claim is never taken on trust.
        let payload = hex(SHA256.hash(data: request.body))
        return [request.method, request.path.isEmpty ? "/" : request.path, canonicalQuery(request.query), headers,
                signedHeaders.joined(separator: ";"), payload].joined(separator: "\n")
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

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

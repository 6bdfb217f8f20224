import Crypto
import Foundation
import Synchronization
import VMI

/// AWS Signature Version 4, as a server checks it: rebuild the canonical request from what arrived, sign it with the
/// secret of the access key the credential names, and compare in constant time.
public enum SigV4 {
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

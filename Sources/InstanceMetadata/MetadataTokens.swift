import Crypto
import Foundation

/// IMDSv2 session tokens, bound to the VEE that asked: `<expiry>.<HMAC-SHA256(key, vee, expiry)>`. Nothing is
/// kept per token, and a token shown by any other VEE fails its check. The key lives in the agent's state
/// directory, so an agent restart leaves tokens valid.
public struct MetadataTokens: Sendable {
    // Kept as bytes: SymmetricKey is not Sendable.
    private let keyBytes: Data
    var key: SymmetricKey { SymmetricKey(data: keyBytes) }
    public static let ttlRange = 1...21_600

    public init(key: SymmetricKey) { keyBytes = key.withUnsafeBytes { Data($0) } }

    /// The key kept at `path` (32 random bytes, mode 0600), made there the first time.
    public static func persistent(at path: String) throws -> MetadataTokens {
        if let data = FileManager.default.contents(atPath: path), data.count == 32 {
            return MetadataTokens(key: SymmetricKey(data: data))
        }
        let key = SymmetricKey(size: .bits256)
        let data = key.withUnsafeBytes { Data($0) }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600])
        guard FileManager.default.contents(atPath: path) == data else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        return MetadataTokens(key: key)
    }

    public func issue(for vee: String, ttlSeconds: Int, now: Date) -> String {
        let expiry = Int(now.timeIntervalSince1970) + ttlSeconds
        return "\(expiry).\(signature(vee, expiry))"
    }

    /// Whether `token` was issued to `vee` and has not expired.
    public func isValid(_ token: String, for vee: String, now: Date) -> Bool {
        let parts = token.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, let expiry = Int(parts[0]), expiry >= Int(now.timeIntervalSince1970) else {
            return false
        }
        // Compared as MACs, in constant time.
        guard let given = Self.base64URLDecoded(String(parts[1])) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Data("\(vee)\n\(expiry)".utf8),
                                                      using: key)
    }

    private func signature(_ vee: String, _ expiry: Int) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(vee)\n\(expiry)".utf8), using: key)
        return Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    private static func base64URLDecoded(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}

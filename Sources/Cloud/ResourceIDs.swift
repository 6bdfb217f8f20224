import VMI

/// EC2-shaped ids: a prefix and 17 lower-case hex digits (`i-0123456789abcdef0`).
enum ResourceID {
    static func make(_ prefix: String) -> String { prefix + "-" + RandomID.hex(digits: 17) }

    /// Whether `id` has the prefix and a hex body, as ids this site (or AWS) gives out do.
    static func looksValid(_ id: String, prefix: String) -> Bool {
        guard id.hasPrefix(prefix + "-") else { return false }
        let body = id.dropFirst(prefix.count + 1)
        return (8...17).contains(body.count) && body.allSatisfy(\.isHexDigit)
    }

    /// 12 random digits, the first not zero.
    static func account() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(1 + generator.next() % 9) + String((0..<11).map { _ in Character(String(generator.next() % 10)) })
    }

    /// An access key id (`AKIA` and 16 upper-case letters or digits) and a 40-character secret.
    static func accessKey() -> (id: String, secret: String) {
        var generator = SystemRandomNumberGenerator()
        let upper = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        let secretAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        let id = "AKIA" + String((0..<16).map { _ in upper[Int(generator.next() % UInt64(upper.count))] })
        let secret = String((0..<40).map { _ in secretAlphabet[Int(generator.next() % UInt64(secretAlphabet.count))] })
        return (id, secret)
    }
}

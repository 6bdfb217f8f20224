/// Random identifiers for messages, VEEs and cloud resources, drawn from the system generator (`getrandom`).
/// Foundation's `UUID()` opens, reads and closes /dev/urandom for each one, and every request makes several.
public enum RandomID {
    /// A version 4 UUID in lowercase text, as `UUID().uuidString.lowercased()` gives.
    public static func uuid() -> String {
        var generator = SystemRandomNumberGenerator()
        var high = generator.next() as UInt64, low = generator.next() as UInt64
        high = (high & ~0xF000) | 0x4000  // version 4
        low = (low & ~(0xC000 << 48)) | (0x8000 << 48)  // RFC 4122 variant
        let text = hex(high, digits: 16) + hex(low, digits: 16)
        let parts = [(0, 8), (8, 12), (12, 16), (16, 20), (20, 32)].map { start, end in
            text[text.index(text.startIndex, offsetBy: start)..<text.index(text.startIndex, offsetBy: end)]
        }
        return parts.joined(separator: "-")
    }

    /// `digits` random lowercase hex digits (at most 32).
    public static func hex(digits: Int) -> String {
        precondition(digits <= 32, "at most 32 hex digits")
        var generator = SystemRandomNumberGenerator()
        let text = hex(generator.next(), digits: 16) + hex(generator.next(), digits: 16)
        return String(text.prefix(digits))
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: digits - text.count) + text
    }
}

/// An IPv4 address as a number, so that ranges and subnets are arithmetic.
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad text (`10.0.0.1`); nil for anything else (no leading zeros, no missing parts).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCIIDigit),
                  part.count == 1 || part.first != "0", let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
        }
        self.value = value
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    public static func < (a: Self, b: Self) -> Bool { a.value < b.value }
}

/// An IPv4 subnet in CIDR form (`10.128.4.0/24`): its address is always the network's first.
public struct IPv4Network: Hashable, Sendable, CustomStringConvertible {
    public let address: IPv4Address
    public let prefixLength: Int

    /// nil when `prefixLength` is out of 0…32 or `address` has bits set past the prefix.
    public init?(address: IPv4Address, prefixLength: Int) {
        guard (0...32).contains(prefixLength), address.value & ~Self.mask(prefixLength) == 0 else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses `a.b.c.d/n`; nil when malformed or when host bits are set (`10.0.0.1/24`).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(parts[0]), parts[1].allSatisfy(\.isASCIIDigit),
              (1...2).contains(parts[1].count), let length = Int(parts[1])
        else { return nil }
        self.init(address: address, prefixLength: length)
    }

    static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : UInt32.max << (32 - length) }

    public var mask: IPv4Address { IPv4Address(Self.mask(prefixLength)) }
    /// How many addresses the subnet spans, its network and broadcast addresses included.
    public var size: UInt64 { 1 << (32 - prefixLength) }
    public var broadcast: IPv4Address { IPv4Address(address.value | ~Self.mask(prefixLength)) }

    public func contains(_ other: IPv4Address) -> Bool { other.value & Self.mask(prefixLength) == address.value }

    public func overlaps(_ other: IPv4Network) -> Bool {
        contains(other.address) || other.contains(address)
    }

    /// The address `offset` places past the network address; nil past the broadcast address.
    public func host(_ offset: UInt32) -> IPv4Address? {
        UInt64(offset) < size ? IPv4Address(address.value + offset) : nil
    }

    /// The `index`-th subnet of length `length` inside this one; nil when there is no such subnet.
    public func subnet(_ index: Int, length: Int) -> IPv4Network? {
        guard length >= prefixLength, length <= 32, index >= 0, UInt64(index) < UInt64(1) << (length - prefixLength)
        else { return nil }
        return IPv4Network(address: IPv4Address(address.value + UInt32(index) << (32 - length)), prefixLength: length)
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

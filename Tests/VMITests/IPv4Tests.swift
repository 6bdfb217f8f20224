import Testing
import VMI

@Suite struct IPv4Tests {
    @Test func addressesParseOnlyInDottedQuadForm() {
        #expect(IPv4Address("10.0.0.1")?.value == 0x0a00_0001)
        #expect(IPv4Address("255.255.255.255")?.description == "255.255.255.255")
        for bad in ["", "10.0.0", "10.0.0.1.2", "10.0.0.256", "10.0.0.01", "a.b.c.d", "10..0.1", "-1.0.0.0", " 10.0.0.1"] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
    }

    @Test func subnetsRefuseHostBitsAndBadLengths() {
        let subnet = IPv4Network("10.128.4.0/24")
        #expect(subnet?.description == "10.128.4.0/24")
        #expect(subnet?.mask.description == "255.255.255.0")
        #expect(subnet?.broadcast.description == "10.128.4.255")
        #expect(subnet?.host(1)?.description == "10.128.4.1")
        #expect(subnet?.host(256) == nil)
        for bad in ["10.0.0.1/24", "10.0.0.0/33", "10.0.0.0", "10.0.0.0/", "10.0.0.0/024", "10.0.0.0/2x"] {
            #expect(IPv4Network(bad) == nil, "\(bad)")
        }
    }

    @Test func containmentOverlapAndSubnetting() throws {
        let pool = try #require(IPv4Network("10.128.0.0/9"))
        #expect(pool.subnet(0, length: 24)?.description == "10.128.0.0/24")
        #expect(pool.subnet(257, length: 24)?.description == "10.129.1.0/24")
        #expect(pool.subnet(1 << 15, length: 24) == nil, "past the pool")
        let a = try #require(IPv4Network("10.10.0.0/16")), b = try #require(IPv4Network("10.10.5.0/24"))
        #expect(a.overlaps(b) && b.overlaps(a))
        #expect(!b.overlaps(try #require(IPv4Network("10.10.6.0/24"))))
        #expect(a.contains(try #require(IPv4Address("10.10.200.3"))))
        #expect(!b.contains(try #require(IPv4Address("10.10.6.1"))))
    }
}

import Foundation
import Testing
import VMI

@Suite struct RandomIDTests {
    @Test func uuidsAreVersion4InLowercaseAndDistinct() {
        let ids = (0..<1000).map { _ in RandomID.uuid() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(UUID(uuidString: id) != nil, "\(id)")
            #expect(id == id.lowercased())
            let characters = Array(id)
            #expect(characters[14] == "4", "\(id): version")
            #expect("89ab".contains(characters[19]), "\(id): variant")
        }
    }

    @Test func hexHasTheDigitsAskedFor() {
        for digits in [1, 8, 17, 32] {
            let text = RandomID.hex(digits: digits)
            #expect(text.count == digits)
            #expect(text.allSatisfy { "0123456789abcdef".contains($0) })
        }
    }
}

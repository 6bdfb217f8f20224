import Foundation
import Testing
import VMI

@Suite struct VEESpecTests {
    @Test func aGoodSpecHasNoProblems() {
        #expect(VEESpec(name: "web-1.a_b", cpus: 2, memoryMiB: 1024, diskGiB: 10, image: "tiny").problems(at: "vee").isEmpty)
    }

    @Test func everyBadFieldIsNamedAtOnce() {
        let spec = VEESpec(name: "<script>", cpus: 0, memoryMiB: 1, diskGiB: -1, image: "", networks: ["ok", "no way"])
        let fields = spec.problems(at: "vees[2]").map { $0.field ?? "" }
        #expect(fields == ["vees[2].name", "vees[2].cpus", "vees[2].memoryMiB", "vees[2].diskGiB", "vees[2].image",
                           "vees[2].networks[1]"])
    }

    @Test func aSpecWithoutNetworksJoinsNone() throws {
        let json = #"{"name": "web1", "cpus": 1, "memoryMiB": 128, "diskGiB": 1, "image": "tiny"}"#
        let spec = try JSONDecoder().decode(VEESpec.self, from: Data(json.utf8))
        #expect(spec == VEESpec(name: "web1", image: "tiny"))
        let missing = #"{"name": "web1", "cpus": 1, "memoryMiB": 128, "image": "tiny"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(VEESpec.self, from: Data(missing.utf8)) }
    }

    @Test(arguments: ["", "-lead", ".dot", "a b", "x'y", "a/b", String(repeating: "a", count: 64), "ünï"])
    func unsafeNamesAreRefused(name: String) {
        #expect(!VEESpec.isValidName(name))
    }

    @Test(arguments: ["a", "web1", "C1-web.tier_2", String(repeating: "a", count: 63)])
    func safeNamesAreAccepted(name: String) {
        #expect(VEESpec.isValidName(name))
    }
}

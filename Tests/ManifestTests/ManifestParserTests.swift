import Foundation
import Manifest
import Testing
import VMI

@Suite struct ManifestParserTests {
    static let seed: String = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/reservoir-seed.yaml")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }()

    func parse(_ text: String) throws -> ServiceManifest { try ManifestParser.parse(text).get() }

    func problems(_ text: String) -> [ManifestProblem] {
        switch ManifestParser.parse(text) {
        case .success: return []
        case .failure(let problems): return problems.all
        }
    }

    @Test func theSeedExampleParses() throws {
        let manifest = try parse(Self.seed)
        #expect(manifest.name == "seed-shop")
        #expect(manifest.components.map(\.name) == ["C1", "C3", "C11"])
        let c1 = try #require(manifest.component("C1"))
        #expect(c1.cpus == 2 && c1.memoryMiB == 1024 && c1.diskGiB == 10 && c1.networks == ["RED"])
        #expect(c1.replicas == ServiceManifest.ReplicaBounds(initial: 1, min: 1, max: 4))
        #expect(manifest.slaClass(of: "C1") == "Gold" && manifest.slaClass(of: "C3") == "Bronze")
        #expect(manifest.slaClass(of: "C11") == "Bronze")
        #expect(manifest.deployGroups(of: "C11") == ["Domain1", "Domain3"])
        #expect(manifest.cpus(of: manifest.component("C11")!) == 2)
        #expect(manifest.deploymentOrder.map(\.name) == ["C3", "C11", "C1"])
        let load = try #require(manifest.rules.first { $0.text.hasPrefix("Load(C3)") })
        #expect(load.window == .seconds(60) && load.aggregate == .avg)
        #expect(manifest.rules.contains { $0.statement == .speed(network: "RED", bytesPerSecond: 5_000_000) })
    }

    @Test func jsonIsAcceptedToo() throws {
        let manifest = try parse("""
            {"service": "tiny", "components": {"web": {"image": "tiny", "replicas": 2}},
             "rules": ["Replicas(web) = Users(web) / 10"]}
            """.replacingOccurrences(of: "Users(web)", with: "Replicas(web) * 2"))
        #expect(manifest.component("web")?.replicas.initial == 2)
    }

    @Test func everyProblemIsReportedAtOnceWithItsLocation() {
        let found = problems("""
            service: shop
            components:
              C1:
                image: tiny
                replicas: {min: 3, max: 2}
                dependsOn: [C2]
                kpis: [Users]
              C2:
                image: tiny
                dependsOn: [C1]
              C1:
                image: other
            rules:
              - Replicas(C1) = RequestPerSecond(C1) / 500
              - Replicas(C9) = 1
              - CPU(C1) = Users(C1) / (2 - 2)
              - Replicas(C1) = 2
              - Load(C2) = 3 *
            """)
        let byKind = Dictionary(grouping: found, by: \.kind)
        #expect(byKind[.replicaBounds]?.first?.location == SourceLocation(line: 5, column: 15))
        #expect(byKind[.duplicateName]?.map(\.location.line).sorted() == [11, 17])
        #expect(byKind[.dependencyCycle]?.count == 1)
        let unknownKPI = byKind[.unknownKPI]?.first
        #expect(unknownKPI?.location == SourceLocation(line: 14, column: 20))
        #expect(unknownKPI?.message.contains("RequestPerSecond") == true)
        #expect(byKind[.unknownComponent]?.first?.location == SourceLocation(line: 15, column: 5))
        #expect(byKind[.divisionByZero]?.first?.location == SourceLocation(line: 16, column: 25))
        #expect(byKind[.expression]?.first?.location.line == 18)
    }

    @Test func syntaxErrorsCarryTheYAMLPosition() {
        let found = problems("service: shop\ncomponents:\n  C1: [unclosed\n")
        #expect(found.count == 1)
        #expect(found.first?.kind == .syntax)
        #expect(found.first?.location.line ?? 0 >= 3)
    }

    @Test func missingAndUnknownFieldsAreNamed() {
        let found = problems("""
            components:
              web:
                cpu: 2
            """)
        #expect(found.map(\.kind).sorted { $0.rawValue < $1.rawValue } == [.missingField, .missingField, .unknownField])
        #expect(found.contains { $0.message.contains("'cpu'") && $0.location == SourceLocation(line: 3, column: 5) })
    }

    @Test func anImageThatIsAPathIsRefusedWhereItIsWritten() {
        let found = problems("""
            service: shop
            components:
              web:
                image: ../../../../etc/passwd
            """)
        #expect(found.count == 1)
        #expect(found.first?.kind == .invalidValue)
        #expect(found.first?.location == SourceLocation(line: 4, column: 12))
        #expect(found.first?.message.contains("'../../../../etc/passwd'") == true, "\(found)")
    }

    @Test func siteFactsCatchDirectivesNoHostCanSatisfy() throws {
        let manifest = try parse(Self.seed)
        let site = SiteFacts(classes: ["Gold", "Bronze"],
                             groups: ["Domain1": Resources(cpus: 1, memoryMiB: 4096, diskGiB: 100),
                                      "Domain2": Resources(cpus: 8, memoryMiB: 8192, diskGiB: 100)])
        let found = ManifestValidator.problems(manifest, site: site)
        // Domain3 does not exist, and C11 (2 CPUs by directive) fits no host in Domain1.
        #expect(found.contains { $0.kind == .unsatisfiableDirective && $0.message.contains("Domain3") })
        #expect(found.contains { $0.kind == .unsatisfiableDirective && $0.message.contains("C11 replica") })
        let roomy = SiteFacts(classes: ["Gold", "Bronze"],
                              groups: ["Domain1": Resources(cpus: 8, memoryMiB: 8192, diskGiB: 100),
                                       "Domain3": Resources(cpus: 8, memoryMiB: 8192, diskGiB: 100)])
        #expect(ManifestValidator.problems(manifest, site: roomy).isEmpty)
        let noGold = SiteFacts(classes: ["Bronze"], groups: roomy.groups)
        #expect(ManifestValidator.problems(manifest, site: noGold).count == 2)  // SLA(C1), SLA(RED)
    }
}

@Suite struct ManifestNetworkTests {
    @Test func aNetworkMayNameItsSubnet() throws {
        let manifest = try ManifestParser.parse("""
            service: s
            components:
              web: {image: tiny, networks: [RED]}
            networks:
              RED: {cidr: 10.10.0.0/24}
            directives:
              - SPEED(RED) = 5MBS
            """).get()
        #expect(manifest.network("RED").subnet?.description == "10.10.0.0/24")
        #expect(manifest.network("BLUE").subnet == nil)
        #expect(manifest.speed(of: "RED") == 5_000_000)
    }

    @Test func aBadSubnetOrAnUnjoinedNetworkIsNamedWhereItIsWritten() {
        guard case .failure(let problems) = ManifestParser.parse("""
            service: s
            components:
              web: {image: tiny, networks: [RED]}
            networks:
              RED: {cidr: 10.10.0.1/24}
              BLUE: {cidr: 10.11.0.0/24}
              GREEN: {cidr: 10.0.0.0/8, mtu: 9000}
            """) else {
            Issue.record("accepted")
            return
        }
        let messages = problems.all.map { "\($0.location.line):\($0.location.column) \($0.message)" }
        #expect(messages.contains { $0.hasPrefix("5:15 cidr must be an IPv4 subnet") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("6:3 networks: no component joins a network named 'BLUE'") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("7:17 cidr must be a /16 to /29") }, "\(messages)")
        #expect(messages.contains { $0.contains("unknown field 'mtu'") }, "\(messages)")
    }
}

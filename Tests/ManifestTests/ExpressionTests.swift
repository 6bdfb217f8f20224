import Manifest
import Testing

@Suite struct ExpressionTests {
    func rule(_ text: String) throws -> Statement {
        let manifest = try ManifestParser.parse("""
            service: s
            components:
              C1: {image: tiny, kpis: [RequestPerSecond, Users]}
              C3: {image: tiny}
            rules:
              - \(text)
            """).get()
        return manifest.rules[0].statement
    }

    @Test func arithmeticFollowsPrecedenceAndParentheses() throws {
        let kpis = ["RequestPerSecond": 1200.0, "Users": 2500, "Load": 0.5]
        func value(_ text: String) throws -> Double? {
            try rule(text).expression?.evaluate { name, _ in kpis[name] ?? 0 }
        }
        #expect(try value("Replicas(C1) = RequestPerSecond(C1) / 500") == 2.4)
        #expect(try value("Replicas(C1) = 1 + 2 * 3") == 7)
        #expect(try value("Replicas(C1) = (1 + 2) * 3") == 9)
        #expect(try value("Replicas(C1) = -2 + 5") == 3)
        #expect(try value("Replicas(C1) = ceil(RequestPerSecond(C1) / 500)") == 3)
        #expect(try value("Replicas(C1) = floor(2.9)") == 2)
        #expect(try value("CPU(C1) = max(1, Users(C1) / 1000, 2)") == 2.5)
        #expect(try value("CPU(C1) = min(4, Users(C1) / 1000)") == 2.5)
        #expect(try value("Load(C3) = 3 * Load(C1)") == 1.5)
    }

    @Test func statementsOfEveryKind() throws {
        #expect(try rule("SLA(C1) = Gold") == .sla(target: "C1", className: "Gold"))
        #expect(try rule("Deploy(C1) = {Domain1, Domain 3}") == .deploy(component: "C1", groups: ["Domain1", "Domain 3"]))
        guard case .kpi("Users", "C3", let expression) = try rule("Users(C3) = 1000") else {
            Issue.record("not a KPI rule")
            return
        }
        #expect(expression.constantValue == 1000)
    }

    @Test(arguments: [
        ("Replicas(C1) = ", "expression ends too early"),
        ("Replicas(C1) = 2 +", "expression ends too early"),
        ("Replicas(C1) = min(1)", "two or more"),
        ("Replicas(C1) = ceil(1, 2)", "one argument"),
        ("Replicas(C1) = (1 + 2", "expected ')'"),
        ("Replicas(C1) 2", "expected '='"),
        ("Replicas = 2", "expected '('"),
        ("SPEED(RED) = 5 furlongs", "unknown rate unit"),
        ("Deploy(C1) = Domain1", "set of host groups"),
        ("Replicas(C1) = 1 / 0", "division by zero"),
        ("Replicas(C1) = 2 3", "unexpected text"),
    ])
    func badRulesAreRefusedWithTheReason(text: String, reason: String) {
        let result = ManifestParser.parse("""
            service: s
            components:
              C1: {image: tiny, networks: [RED]}
            rules:
              - \(text)
            """)
        guard case .failure(let problems) = result else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect(problems.all.contains { $0.message.contains(reason) && $0.location.line == 5 },
                "\(problems)")
    }
}

@Suite struct ExpressionDepthTests {
    func problems(_ rule: String) -> [String] {
        let text = "service: s\ncomponents:\n  C1: {image: tiny}\nrules:\n  - '\(rule)'\n"
        guard case .failure(let problems) = ManifestParser.parse(text) else { return [] }
        return problems.all.map(\.message)
    }

    /// A fuzzer's find: deep nesting overflowed the stack. It is refused with a reason instead.
    @Test func deepNestingIsRefusedNotOverflowed() {
        for rule in ["Replicas(C1) = " + String(repeating: "(", count: 5_000) + "1",
                     "Replicas(C1) = " + String(repeating: "-", count: 5_000) + "1",
                     "Replicas(C1) = " + String(repeating: "max(", count: 5_000) + "1"] {
            let found = problems(rule)
            #expect(found.contains { $0.contains("nests more than 64 levels") }, "\(found.prefix(2))")
        }
        #expect(problems("Replicas(C1) = " + String(repeating: "(", count: 20) + "1" + String(repeating: ")", count: 20))
            .isEmpty)
    }
}

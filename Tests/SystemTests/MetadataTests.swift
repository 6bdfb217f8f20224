import Foundation
import Testing
import VeemTestSupport

/// The instance metadata service on the testbed, seen from inside real TCG guests on two hosts: each guest asks
/// 169.254.169.254 for an IMDSv2 token, then its instance id, key and user data at boot, and runs the user data,
/// whose probe posts a KPI that scales its component.
@Suite(.serialized) struct MetadataTests {
    struct Guest {
        var name: String, id: String, host: String, address: String
        var component: String { name.contains("-db-") ? "db" : "web" }
    }

    static func key(_ who: String) -> String {
        "ssh-ed25519 " + Data("veem test key of \(who), 32 bytes".utf8).base64EncodedString() + " \(who)@veem-test"
    }

    static let manifest = """
        service: meta
        components:
          web:
            cpus: 1
            memoryMiB: 128
            diskGiB: 0
            image: tiny
            networks: [RED]
            replicas: {initial: 1, min: 1, max: 3}
            kpis: [RequestPerSecond]
            keyName: web-key
            publicKeys: ["\(key("web"))"]
            userData: |
              #!/bin/sh
              echo "VEEM-TEST-USERDATA web $(cat /run/instance-id)"
              # The probe: 1200 requests a second, from this replica.
              while true; do veem-probe RequestPerSecond 1200 && echo VEEM-TEST-PROBE posted; sleep 2; done > /dev/null &
          db:
            cpus: 1
            memoryMiB: 128
            diskGiB: 0
            image: tiny
            networks: [RED]
            replicas: 1
            publicKeys: ["\(key("db"))"]
            userData: |
              #!/bin/sh
              echo "VEEM-TEST-USERDATA db $(cat /run/instance-id)"
              # Pass for a neighbour found by ARP: the host must drop what leaves with its address.
              for i in $(seq 1 120); do n=$(ls /tmp | grep '^reach\\.' | head -n 1); [ -n "$n" ] && break; sleep 1; done
              self=$(ip -4 -o addr show dev eth0 | awk '{print $4}')
              gw=$(ip route show 169.254.169.254 | awk '{print $3}')
              other=${self%.*}.${n#reach.}
              ip addr del "$self" dev eth0
              ip addr add "$other/24" dev eth0
              ip route add 169.254.169.254/32 via "$gw" dev eth0
              if veem-imds GET /latest/meta-data/instance-id > /tmp/spoofed; then
                echo "VEEM-TEST-SPOOF answered $other $(cat /tmp/spoofed)"
              else
                echo "VEEM-TEST-SPOOF refused $other"
              fi
              ip addr del "$other/24" dev eth0
              ip addr add "$self" dev eth0
              ip route add 169.254.169.254/32 via "$gw" dev eth0
              veem-imds GET /latest/meta-data/instance-id > /tmp/again && echo "VEEM-TEST-SPOOF restored $(cat /tmp/again)"
        networks:
          RED: {cidr: 10.20.0.0/24}
        rules:
          - rule: Replicas(web) = RequestPerSecond(web) / 500
            period: 2s
            window: 10s
            cooldown: 5s
        sla:
          - SLA(web) = Bronze
          - SLA(db) = Bronze
        """

    func guests(_ site: ShippedSite) async throws -> [Guest] {
        VeemctlTable.rows(try await site.veemctl("service", "show", "meta")).compactMap { row in
            guard row.count > 9, row[9].hasPrefix("RED=") else { return nil }
            let address = row[9].dropFirst(4).split(separator: "/")[0]
            return Guest(name: row[0], id: row[1], host: row[2], address: String(address))
        }
    }

    /// The metadata listeners open in a host's network namespace.
    func listeners(_ testbed: Testbed, _ host: String) async throws -> [String] {
        let result = try await testbed.exec(host, "sh", "-c", "ss -Hltn 'sport = :8775' | awk '{print $4}' | sort")
        return result.output.split(separator: "\n").map(String.init)
    }

    @Test func eachGuestReadsItsOwnMetadata() async throws {
        try await TestbedSite.with(hosts: 2, label: "metadata") { site, testbed, port in
            try await TestbedSite.start(site, testbed: testbed, port: port, networks: true)
            let file = "\(site.directory)/meta.yaml"
            try Self.manifest.write(toFile: file, atomically: true, encoding: .utf8)
            try await site.veemctl("service", "submit", file, "--timeout", "300")

            // Each guest asks at boot: what the hosts have for that, should it fail.
            let first = try await guests(site)
            let asked = try await eventually(timeout: .seconds(120)) {
                first.allSatisfy { TestbedSite.console(site, host: $0.host, vee: $0.id).contains("VEEM-GUEST-METADATA ") }
            }
            try #require(asked, "the guests booted and asked for their metadata")
            if let failed = first.first(where: {
                TestbedSite.console(site, host: $0.host, vee: $0.id).contains("VEEM-GUEST-METADATA none")
            }) {
                let log = site.process(failed.host)?.output.split(separator: "\n")
                    .filter { $0.contains("metadata") || $0.contains("error") || $0.contains("warning") }
                    .suffix(20).joined(separator: "\n") ?? ""
                let open = try await testbed.exec(failed.host, "ss", "-ltn")
                let rules = try await testbed.exec(failed.host, "nft", "list", "ruleset")
                let console = TestbedSite.console(site, host: failed.host, vee: failed.id)
                Issue.record("\(failed.name) got no metadata: \(console.suffix(600))\nAgent: \(log)\nListening: \(open.output)\n\(rules.output)")
                return
            }

            // The probe in web's user data posts 1200/s; 500 per replica wanted: web grows to its max.
            var all: [Guest] = []
            let scaled = try await eventually(timeout: .seconds(240)) {
                all = try await guests(site)
                let rows = VeemctlTable.rows(try await site.veemctl("service", "show", "meta"))
                return rows.filter { $0.count > 8 && $0[0].contains("-web-") && $0[8] == "ACTIVE" }.count == 3
            }
            let shown = try await site.veemctl("service", "show", "meta")
            #expect(scaled, "web scaled to 3 on its probe's KPI: \(shown)")

            // Each guest read its own instance id (IMDSv2), key and user data, and nothing of the other component's.
            for guest in all {
                let done = try await eventually(timeout: .seconds(120)) {
                    TestbedSite.console(site, host: guest.host, vee: guest.id)
                        .contains("VEEM-TEST-USERDATA \(guest.component) \(guest.name)")
                }
                let console = TestbedSite.console(site, host: guest.host, vee: guest.id)
                #expect(done, "\(guest.name) ran its user data: \(console)")
                #expect(console.contains("VEEM-GUEST-METADATA instance-id=\(guest.name) via=v2"), "\(console)")
                #expect(console.contains("VEEM-GUEST-KEY \(Self.key(guest.component))"), "\(guest.name)'s key")
                let other = guest.component == "web" ? "db" : "web"
                #expect(!console.contains(Self.key(other)), "\(guest.name) saw nothing of \(other)'s")
            }
            #expect(Set(all.map(\.host)).count == 2, "the service spans both hosts: \(all.map(\.host))")
            // db's user data passes for a neighbour (its address, its own MAC and tap): the host drops it before
            // the metadata service, and answers db again once it is itself.
            for guest in all where guest.component == "db" {
                let spoofed = try await eventually(timeout: .seconds(150)) {
                    TestbedSite.console(site, host: guest.host, vee: guest.id).contains("VEEM-TEST-SPOOF restored")
                }
                let console = TestbedSite.console(site, host: guest.host, vee: guest.id)
                #expect(spoofed, "\(guest.name) tried a neighbour's address: \(console.suffix(800))")
                #expect(console.contains("VEEM-TEST-SPOOF refused") && !console.contains("VEEM-TEST-SPOOF answered"),
                        "\(guest.name) passing for a neighbour was refused: \(console.suffix(800))")
                #expect(console.contains("VEEM-TEST-SPOOF restored \(guest.name)"), "\(console.suffix(800))")
            }

            // One listener per host with members, on its bridge's gateway; it is back after an agent restart.
            for host in testbed.hosts {
                let open = try await listeners(testbed, host)
                #expect(open == ["10.20.0.1%veemb1000:8775"], "\(host): \(open)")
            }
            let stopped = try await site.stop("h1")
            #expect(stopped.status == 0 && !stopped.signalled)
            try await site.restart("h1")
            let back = try await eventually(timeout: .seconds(30)) { try await listeners(testbed, "h1").count == 1 }
            #expect(back, "h1's metadata listener reopened after its agent restarted")

            // Undeployed: no listener, no rule for a tap, no forward to the metadata service is left.
            try await site.veemctl("service", "undeploy", "meta", "--wait")
            let clean = try await eventually(timeout: .seconds(30)) {
                for host in testbed.hosts {
                    if try await !listeners(testbed, host).isEmpty { return false }
                    let rules = try await testbed.exec(host, "nft", "list", "ruleset")
                    if rules.output.contains("veemt") || rules.output.contains("169.254.169.254") { return false }
                }
                return true
            }
            #expect(clean, "nothing of the metadata service left on any host")
        }
    }
}

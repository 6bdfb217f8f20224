import Foundation
import Testing
import VeemTestSupport

/// EC2 instances in VPC subnets on the testbed, driven by awscli through the shipped gateway, seen from inside real
/// TCG guests: each takes its subnet address by DHCP, reads its own instance id, key and user data from the
/// metadata service, and reaches the other instance of its subnet on the other host, but nothing of another
/// account's VPC that uses the very same addresses.
@Suite(.serialized) struct VpcTests {
    static let image = "ami-0000000000000002b"
    static let publicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

    struct Instance {
        var id: String, vee: String, host: String, address: String, mac: String
    }

    @Test func instancesOfASubnetReachEachOtherAcrossHostsAndNothingOfAnotherVPC() async throws {
        try await TestbedSite.with(hosts: 2, label: "vpc") { site, testbed, port in
            let url = try await TestbedSite.start(site, testbed: testbed, port: port, networks: true,
                                                  coordinator: ["VEEM_EC2_IMAGES": "\(Self.image):tiny:tiny-guest"])
            let gateway = try await site.start("veem-ec2", name: "ec2", settings: [
                "VEEM_EC2_LISTEN": "127.0.0.1:0", "VEEM_EC2_TIMEOUT_SECONDS": "30", "VEEM_AMQP_URL": url,
            ], launcher: testbed.launcher("ctl"))
            let endpoint = "http://127.0.0.1:\(try ShippedDaemonTests.listeningPort(of: gateway))"
            let accounts = try await ShippedDaemonTests.accounts(site)
            let (a, b) = (AWSCLI(endpoint: endpoint, accessKey: accounts["VEEM_A_KEY"]!,
                                 secret: accounts["VEEM_A_SECRET"]!, launcher: testbed.launcher("ctl")),
                          AWSCLI(endpoint: endpoint, accessKey: accounts["VEEM_B_KEY"]!,
                                 secret: accounts["VEEM_B_SECRET"]!, launcher: testbed.launcher("ctl")))

            // Each account's own VPC, both 10.30.0.0/16 with a subnet 10.30.1.0/24.
            func subnet(_ cli: AWSCLI) async throws -> String {
                let vpc = try await cli.ec2("create-vpc", "--cidr-block", "10.30.0.0/16", "--query", "Vpc.VpcId")
                return try await cli.ec2("create-subnet", "--vpc-id", vpc, "--cidr-block", "10.30.1.0/24",
                                         "--query", "Subnet.SubnetId")
            }
            let (subnetA, subnetB) = (try await subnet(a), try await subnet(b))
            let key = site.directory + "/key.pub", script = site.directory + "/user-data.sh"
            try "\(Self.publicKey) vpc-test\n".write(toFile: key, atomically: true, encoding: .utf8)
            try "#!/bin/sh\necho \"VEEM-TEST-USERDATA $(cat /run/instance-id)\"\n"
                .write(toFile: script, atomically: true, encoding: .utf8)
            try await a.ec2("import-key-pair", "--key-name", "vpc", "--public-key-material", "fileb://" + key)

            // a1 also watches a2's web server (at 10.30.1.10, the first free address) with nc (busybox's wget crashes in
            // this guest), saying when it opens or closes.
            let watcher = site.directory + "/watcher.sh"
            try """
                #!/bin/sh
                echo "VEEM-TEST-USERDATA $(cat /run/instance-id)"
                last=""
                while true; do
                  # The writer stays a moment: nc that sees its input end may close before the answer comes.
                  if { printf 'GET / HTTP/1.0\\r\\n\\r\\n'; sleep 2 & } | nc -w 2 10.30.1.10 80 2>/dev/null \\
                    | grep -q ' 200 '; then
                    now=open
                  else
                    now=closed
                  fi
                  [ "$now" != "$last" ] && echo "VEEM-TEST-HTTP $now" && last=$now
                  sleep 0.5
                done &

                """.write(toFile: watcher, atomically: true, encoding: .utf8)
            func run(_ cli: AWSCLI, _ subnet: String, _ extra: String..., userData: String? = nil) async throws
                -> String {
                try await cli.ec2(["run-instances", "--image-id", Self.image, "--instance-type", "t2.nano",
                                   "--subnet-id", subnet, "--user-data", "file://" + (userData ?? script),
                                   "--query", "Instances[0].InstanceId"] + extra)
            }
            let a1 = try await run(a, subnetA, "--private-ip-address", "10.30.1.20", "--key-name", "vpc",
                                   userData: watcher)
            let a2 = try await run(a, subnetA, "--key-name", "vpc")
            let b1 = try await run(b, subnetB, "--private-ip-address", "10.30.1.21")
            try await a.ec2("wait", "instance-running", "--instance-ids", a1, a2)
            try await b.ec2("wait", "instance-running", "--instance-ids", b1)

            func describe(_ cli: AWSCLI, _ id: String) async throws -> Instance {
                let fields = try await cli.ec2("describe-instances", "--instance-ids", id, "--query",
                                               "Reservations[0].Instances[0].[PrivateIpAddress,NetworkInterfaces[0].MacAddress]")
                    .split(whereSeparator: \.isWhitespace).map(String.init)
                let row = try #require(VeemctlTable.rows(try await site.veemctl("vees")).first { $0[0] == id })
                return Instance(id: id, vee: row[1], host: row[2], address: fields[0], mac: fields[1].lowercased())
            }
            let (one, two, other) = (try await describe(a, a1), try await describe(a, a2), try await describe(b, b1))
            #expect(one.address == "10.30.1.20" && two.address == "10.30.1.10" && other.address == "10.30.1.21")
            #expect(one.host != two.host, "a's instances on both hosts: \(one.host), \(two.host)")

            func console(_ instance: Instance) -> String {
                TestbedSite.console(site, host: instance.host, vee: instance.vee)
            }
            for instance in [one, two, other] {
                // DHCP gave the address and MAC DescribeInstances shows; the metadata service this instance's id.
                let booted = try await eventually(timeout: .seconds(120)) {
                    console(instance).contains("VEEM-TEST-USERDATA \(instance.id)")
                }
                #expect(booted, "\(instance.id) booted and ran its user data: \(console(instance).suffix(800))")
                #expect(console(instance).contains("VEEM-GUEST-NET eth0 \(instance.address)/24 \(instance.mac)"),
                        "\(console(instance).suffix(800))")
                #expect(console(instance).contains("VEEM-GUEST-METADATA instance-id=\(instance.id) via=v2"))
            }
            #expect(console(one).contains("VEEM-GUEST-KEY \(Self.publicKey)"), "a1 has its key")
            #expect(!console(other).contains("VEEM-GUEST-KEY ssh-"), "b1 launched without a key has none")

            // Across hosts within the subnet, by ARP; another VPC's 10.30.1.21 is never seen.
            let reached = try await eventually(timeout: .seconds(120)) {
                NetworkTests.reached(console(one))["10.30.1.10"] == two.mac
                    && NetworkTests.reached(console(two))["10.30.1.20"] == one.mac
            }
            #expect(reached, "a1 and a2 reach each other:\n\(console(one).suffix(600))\n\(console(two).suffix(600))")
            for instance in [one, two] {
                #expect(NetworkTests.reached(console(instance))["10.30.1.21"] == nil, "\(instance.id) saw b's VPC")
            }
            #expect(NetworkTests.reached(console(other)).isEmpty, "b1 saw a's VPC: \(console(other).suffix(600))")

            // Security groups: both are in a's default group, whose members may reach each other; without that
            // rule a2's port 80 closes to a1, and a rule for a1's address opens it again.
            func http() -> String? {
                console(one).split(whereSeparator: \.isNewline).last { $0.hasPrefix("VEEM-TEST-HTTP ") }
                    .map { String($0.dropFirst("VEEM-TEST-HTTP ".count)) }
            }
            #expect(try await eventually(timeout: .seconds(60)) { http() == "open" }, "\(console(one).suffix(600))")
            let group = try await a.ec2("describe-security-groups", "--group-names", "default",
                                        "--query", "SecurityGroups[0].GroupId")
            try await a.ec2("revoke-security-group-ingress", "--group-id", group,
                            "--ip-permissions", "IpProtocol=-1,UserIdGroupPairs=[{GroupId=\(group)}]")
            #expect(try await eventually(timeout: .seconds(20)) { http() == "closed" }, "\(console(one).suffix(600))")
            try await a.ec2("authorize-security-group-ingress", "--group-id", group, "--protocol", "tcp",
                            "--port", "80", "--cidr", "10.30.1.20/32")
            #expect(try await eventually(timeout: .seconds(20)) { http() == "open" }, "\(console(one).suffix(600))")
            try await a.ec2("revoke-security-group-ingress", "--group-id", group, "--protocol", "tcp",
                            "--port", "80", "--cidr", "10.30.1.20/32")
            #expect(try await eventually(timeout: .seconds(20)) { http() == "closed" }, "\(console(one).suffix(600))")

            // New user data on a stopped instance is what its guest reads at its next boot.
            try await a.ec2("stop-instances", "--instance-ids", a2)
            try await a.ec2("wait", "instance-stopped", "--instance-ids", a2)
            let again = Data("#!/bin/sh\necho \"VEEM-TEST-USERDATA-AGAIN $(cat /run/instance-id)\"\n".utf8)
            try await a.ec2("modify-instance-attribute", "--instance-id", a2, "--attribute", "userData",
                            "--value", again.base64EncodedString())
            try await a.ec2("start-instances", "--instance-ids", a2)
            try await a.ec2("wait", "instance-running", "--instance-ids", a2)
            let reread = try await eventually(timeout: .seconds(120)) {
                console(two).contains("VEEM-TEST-USERDATA-AGAIN \(a2)")
            }
            #expect(reread, "a2 ran its new user data after a restart: \(console(two).suffix(800))")

            // Terminated: the subnet and VPC may go, and nothing of them is left on any host.
            try await a.ec2("terminate-instances", "--instance-ids", a1, a2)
            try await b.ec2("terminate-instances", "--instance-ids", b1)
            try await a.ec2("wait", "instance-terminated", "--instance-ids", a1, a2)
            try await b.ec2("wait", "instance-terminated", "--instance-ids", b1)
            var left = ""
            let clean = try await eventually(timeout: .seconds(30)) {
                left = ""
                for host in testbed.hosts {
                    let links = try await testbed.exec(host, "sh", "-c",
                                                       "ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | grep '^veem'")
                    left += links.output.trimmingCharacters(in: .whitespacesAndNewlines)
                }
                return left.isEmpty
            }
            #expect(clean, "no bridge or tap left on any host: \(left)")
            try await a.ec2("delete-subnet", "--subnet-id", subnetA)
        }
    }
}

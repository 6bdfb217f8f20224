import ArgumentParser
import Cloud
import EC2
import Foundation
import Hypervisor
import VeemTestSupport
import VMI

/// The EC2 gateway under wrk: DescribeInstances over N instances, then RunInstances, each request signed once
/// (a signature stays valid for the clock-skew window) and replayed by wrk's connections.
struct EC2Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ec2", abstract: "Requests/s and p99 of DescribeInstances (over --instances) and RunInstances.")

    @Option(help: "Instances to launch before measuring DescribeInstances.") var instances = 1000
    @Option(help: "Seconds per measurement.") var seconds = 10
    @Option(help: "wrk connections (concurrent clients).") var connections = 16
    @Option(help: "Calls to measure: describe, run, or both (for profiling one).") var calls = "both"

    static let image = "ami-0000000000000001a"

    func run() async throws {
        guard ["both", "describe", "run"].contains(calls) else {
            throw ValidationError("--calls is describe, run or both, not '\(calls)'")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") else {
            throw ValidationError("wrk is needed: apt-get install wrk")
        }
        // The site's parts and nothing else: no watcher of every VEE event (a test harness's, not a site's).
        try await SiteHarness.with(label: "bench-ec2", heartbeat: .seconds(5), watching: "site.host_up") { site in
            let driver = try await LibvirtDriver.open(uri: try TestNode.uri(cpus: 1 << 20, memoryMiB: 1 << 30),
                                                      diskDirectory: NSTemporaryDirectory() + "veem-bench-disks")
            try await site.startCoordinator(cloud: CloudSite(region: "site1", images: [
                SiteImage(id: Self.image, name: "tiny", location: "tiny"),
            ]))
            try await site.startAgent("bench-host", driver: driver)
            let port = try await site.startGateway()
            let account = try await site.client.createAccount(CreateAccount(name: "bench"))
            let signer = Signer(port: port, accessKey: account.accessKey, secret: account.secret ?? "")

            // A subnet of 65,531 addresses: the site grows past the default subnet's 4,091 during the run.
            let vpc = try Self.field("vpcId", in: try await signer.curl(
                "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16"))
            let subnet = try Self.field("subnetId", in: try await signer.curl(
                "Action=CreateSubnet&Version=2016-11-15&VpcId=\(vpc)&CidrBlock=10.0.0.0%2F16"))
            // Fill the site through the API, 100 at a time, and let the agent finish before measuring.
            for start in stride(from: 0, to: instances, by: 100) {
                let count = min(100, instances - start)
                let result = try await signer.curl("Action=RunInstances&Version=2016-11-15&ImageId=\(Self.image)"
                    + "&MinCount=\(count)&MaxCount=\(count)&InstanceType=t2.nano&SubnetId=\(subnet)")
                guard result.contains("<reservationId>") else { throw ValidationError("RunInstances failed: \(result)") }
            }
            while try await site.client.site().vees.contains(where: { $0.observed != .active }) {
                try await Task.sleep(for: .milliseconds(200))
            }
            let describe = try await signer.curl("Action=DescribeInstances&Version=2016-11-15")
            let described = describe.components(separatedBy: "<instanceId>").count - 1
            print("DescribeInstances answers with \(described) instances, \(describe.utf8.count) bytes")

            if calls != "run" {
                try await measure("DescribeInstances (\(described) instances)",
                                  signer.wrkScript("Action=DescribeInstances&Version=2016-11-15"), port)
            }
            if calls != "describe" {
                try await measure("RunInstances (1 instance each)",
                                  signer.wrkScript("Action=RunInstances&Version=2016-11-15&ImageId=\(Self.image)"
                                      + "&MinCount=1&MaxCount=1&InstanceType=t2.nano&SubnetId=\(subnet)"), port)
            }
        }
    }

    /// The text of the first `<name>` element of an EC2 answer.
    static func field(_ name: String, in xml: String) throws -> String {
        guard let start = xml.range(of: "<\(name)>"), let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex)
        else { throw ValidationError("no <\(name)> in \(xml.prefix(300))") }
        return String(xml[start.upperBound..<end.lowerBound])
    }

    func measure(_ what: String, _ script: String, _ port: Int) async throws {
        let path = NSTemporaryDirectory() + "veem-bench-\(UUID().uuidString).lua"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try await ExternalCommand.run("/usr/bin/wrk", [
            "-t2", "-c\(connections)", "-d\(seconds)s", "--timeout", "30s", "-s", path, "http://127.0.0.1:\(port)/",
        ])
        guard let line = result.output.split(separator: "\n").first(where: { $0.hasPrefix("RESULT") }) else {
            throw ValidationError("wrk failed: \(result.output)")
        }
        var fields: [String: Double] = [:]
        for pair in line.split(separator: " ").dropFirst() {
            let parts = pair.split(separator: "=")
            fields[String(parts[0])] = Double(parts[1])
        }
        let requests = fields["requests"] ?? 0, duration = (fields["duration_us"] ?? 1) / 1e6
        print(String(format: "%@: %.0f requests/s over %.1f s, p50 %.1f ms, p99 %.1f ms, %d non-2xx or errors",
                     what, requests / duration, duration, (fields["p50_us"] ?? 0) / 1000,
                     (fields["p99_us"] ?? 0) / 1000, Int(fields["errors"] ?? 0)))
    }
}

/// Signs Query calls for the bench's gateway.
struct Signer {
    let port: Int
    let accessKey: String
    let secret: String
    let contentType = "application/x-www-form-urlencoded; charset=utf-8"

    func headers(_ body: String) -> [(name: String, value: String)] {
        let request = SignedRequest(method: "POST", path: "/",
                                    headers: [("Host", "127.0.0.1:\(port)"), ("Content-Type", contentType)],
                                    body: Array(body.utf8))
        return [("Content-Type", contentType)]
            + SigV4.signingHeaders(for: request, accessKey: accessKey, secret: secret, region: "site1")
    }

    func curl(_ body: String) async throws -> String {
        let arguments = headers(body).flatMap { ["-H", "\($0.name): \($0.value)"] }
        return try await ExternalCommand.run("/usr/bin/curl", ["-s", "-X", "POST"] + arguments
            + ["--data-binary", body, "http://127.0.0.1:\(port)/"]).output
    }

    /// A wrk script replaying one signed call and printing one parseable RESULT line.
    func wrkScript(_ body: String) -> String {
        let lines = headers(body).map { "wrk.headers[\"\($0.name)\"] = \"\($0.value)\"" }
        return """
            wrk.method = "POST"
            wrk.body = "\(body)"
            \(lines.joined(separator: "\n"))
            done = function(summary, latency, requests)
              local e = summary.errors
              io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\\n",
                summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
                e.status + e.connect + e.read + e.write + e.timeout))
            end
            """
    }
}

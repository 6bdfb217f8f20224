import Foundation
import Hypervisor
import Testing
import VeemTestSupport

/// One step of the schedule: the request, the fault while it is under way, what the site must hold afterwards.
extension FaultRig {
    typealias Row = [String]

    /// Every VEE that is not yet observed DESTROYED, those still being destroyed included.
    func liveVEEs() async throws -> [Row] {
        VeemctlTable.rows(try await site.veemctl("vees", "--all", "--timeout", "30"))
            .filter { $0.count >= 9 && $0[8] != "DESTROYED" }
    }

    func perform(_ step: FaultSchedule.Step) async throws {
        // An external change hits a VEE the request does not touch, chosen before it is sent.
        let target = step.fault.isExternal ? try await externalTarget(avoiding: step.operation) : nil
        async let outcome = request(step.operation)
        try await Task.sleep(for: step.delay)
        try await inject(step.fault, target: target)
        let result = try await outcome
        if result.status == 0 {
            answered += 1
            apply(step.operation, output: result.output)
        } else {
            // Failed, but clearly: an exit status of the client's own with a reason, never a crash.
            #expect(result.status > 0 && result.status < 128 && !result.output.isEmpty,
                    "\(step.operation) failed unclearly (\(result.status)): \(result.output)")
            failedClearly.append("\(step.operation) (\(step.fault.rawValue)): "
                + (result.output.split(separator: "\n").last.map(String.init) ?? ""))
            try await resolve(step.operation)
        }
    }

    /// Runs the client for `operation`; its exit status and output.
    func request(_ operation: FaultSchedule.Operation) async throws -> ExternalCommand.Result {
        switch operation {
        case .deploy(let service):
            let file = "\(site.directory)/\(service).yaml"
            try """
                service: \(service)
                components:
                  C1: {cpus: 1, memoryMiB: 128, diskGiB: 1, image: tiny, replicas: {initial: 1, min: 1, max: 2}}
                """.write(toFile: file, atomically: true, encoding: .utf8)
            return try await site.veemctlResult(["service", "submit", file, "--timeout", "180"])
        case .scale(let service, let replicas):
            return try await site.veemctlResult(["service", "scale", service, "C1", "\(replicas)", "--timeout", "120"])
        case .undeploy(let service):
            return try await site.veemctlResult(["service", "undeploy", service, "--wait", "--timeout", "180"])
        case .submitLone(let name):
            let file = "\(site.directory)/\(name).json"
            try #"{"vees": [{"name": "\#(name)", "cpus": 1, "memoryMiB": 128, "diskGiB": 1, "image": "tiny"}]}"#
                .write(toFile: file, atomically: true, encoding: .utf8)
            return try await site.veemctlResult(["submit", file, "--activate", "--timeout", "180"])
        case .updateLone(let name, let action):
            return try await site.veemctlResult(["update", name, action, "--wait", "--timeout", "180"])
        case .runInstance(let token):
            return try await ec2("run-instances", "--image-id", Self.tinyImage, "--instance-type", "t2.nano",
                                 "--client-token", token, "--query", "Instances[0].InstanceId")
        case .terminate(let instance):
            return try await ec2("terminate-instances", "--instance-ids", instance)
        }
    }

    func ec2(_ arguments: String...) async throws -> ExternalCommand.Result {
        try await ExternalCommand.run("/usr/bin/env", ["aws", "--endpoint-url", endpoint, "--output", "text", "ec2"]
                                          + arguments, environment: aws)
    }

    /// What a request that was answered leaves the site wanting.
    func apply(_ operation: FaultSchedule.Operation, output: String) {
        switch operation {
        case .deploy(let service): model.services[service] = 1
        case .scale(let service, let replicas): model.services[service] = replicas
        case .undeploy(let service): model.services[service] = nil
        case .submitLone(let name): model.lone[name] = "ACTIVE"
        case .updateLone(let name, let action):
            model.lone[name] = ["activate": "ACTIVE", "pause": "PAUSED", "suspend": "SUSPENDED"][action]
        case .runInstance: model.instances.insert(output.trimmingCharacters(in: .whitespacesAndNewlines))
        case .terminate(let instance): model.instances.remove(instance)
        }
    }

    /// After a request that failed clearly, the site decides whether it happened: what it shows once settled is
    /// taken, and must then be whole like anything else.
    func resolve(_ operation: FaultSchedule.Operation) async throws {
        _ = try await eventually(timeout: .seconds(120)) {
            try await self.liveVEEs().allSatisfy { $0[7] == $0[8] }
        }
        let vees = try await liveVEEs()
        switch operation {
        case .deploy(let service), .scale(let service, _), .undeploy(let service):
            let replicas = vees.filter { $0[0].hasPrefix("\(service)-C1-") }.count
            let listed = VeemctlTable.rows(try await site.veemctl("service", "list", "--timeout", "30"))
                .first { $0.first == service }
            model.services[service] = listed.map { ["UNDEPLOYED", "UNDEPLOYING"].contains($0[1]) } == false
                ? replicas : nil
        case .submitLone(let name), .updateLone(let name, _):
            model.lone[name] = vees.first { $0[0] == name }?[7]
        case .runInstance, .terminate:
            model.instances = Set(vees.map { $0[0] }.filter { $0.hasPrefix("i-") })
        }
    }

    /// A VEE that `operation` does not touch, ACTIVE, lone or a service replica (EC2 instances are left alone).
    func externalTarget(avoiding operation: FaultSchedule.Operation) async throws -> Row? {
        let touched: String
        switch operation {
        case .deploy(let name), .scale(let name, _), .undeploy(let name): touched = "\(name)-C1-"
        case .submitLone(let name), .updateLone(let name, _): touched = name
        case .runInstance, .terminate: touched = "i-"
        }
        return try await liveVEEs().filter { row in
            row[7] == "ACTIVE" && row[8] == "ACTIVE" && !row[0].hasPrefix(touched) && !row[0].hasPrefix("i-")
        }.first
    }
}

import Foundation
import Inventory
import Messaging
import Placement
import VMI

/// VMI requests from clients: each gets one reply (VEEsAccepted, a report, or ErrorReply) and is acked once its
/// effect is committed. A re-delivered request gets the recorded reply again and changes nothing.
extension CoordinatorService {
    func consumeRequests() async {
        for await delivery in connection.consume(queue: Topology.requestsQueue, prefetch: 512) {
            let reply = await handleRequest(delivery)
            if let (bytes, requestId) = reply, let replyTo = delivery.properties.replyTo {
                connection.post(exchange: "", routingKey: replyTo, body: bytes,
                                properties: MessageProperties(correlationId: requestId, persistent: false),
                                mandatory: true) { [logger] result in
                    if case .failure(let error) = result {
                        logger.info("reply not delivered", metadata: ["to": "\(replyTo)", "error": "\(error)"])
                    }
                }
            }
            connection.ack(delivery)
        }
    }

    /// The encoded reply and the request id it answers.
    func handleRequest(_ delivery: Delivery) async -> ([UInt8], String)? {
        let header: MessageHeader
        let type: MessageType
        do {
            (header, type) = try VMI.decodeHeader(delivery.body)
        } catch {
            let id = delivery.properties.messageId ?? "unknown"
            return (encodeError([error], to: id), id)
        }
        do {
            if let recorded = try await inventory.reply(forRequest: header.id) { return (recorded, header.id) }
            return (try await dispatch(type, header: header, body: delivery.body), header.id)
        } catch let error as VMIError {
            return (encodeError([error], to: header.id), header.id)
        } catch let errors as VMIErrors {
            return (encodeError(errors.all, to: header.id), header.id)
        } catch {
            logger.error("request failed", metadata: ["type": "\(type.rawValue)", "error": "\(error)"])
            return (encodeError([VMIError(code: .internalError, message: "\(error)")], to: header.id), header.id)
        }
    }

    private func dispatch(_ type: MessageType, header: MessageHeader, body: [UInt8]) async throws -> [UInt8] {
        let now = Date()
        switch type {
        case .initializeVEE:
            let request = try VMI.decode(InitializeVEE.self, from: body).body
            return try await admit([request.vee], fieldPrefix: { _ in "vee" }, header: header, at: now)
        case .submitVEEs:
            let request = try VMI.decode(SubmitVEEs.self, from: body).body
            guard !request.vees.isEmpty else {
                throw VMIError(code: .invalidParameter, field: "vees", message: "must list at least one VEE")
            }
            return try await admit(request.vees, fieldPrefix: { "vees[\($0)]" }, header: header, at: now)
        case .veeUpdate:
            let request = try VMI.decode(VEEUpdate.self, from: body).body
            let sender = self.sender
            let (view, changed) = try await inventory.updateDesired(request.vee, at: now, request: header.id) {
                try VEEStateMachine.target(of: request.action, from: $0.desired)
            } reply: { view in
                VMI.encode(Envelope(body: VEEsAccepted(vees: [view]), sender: sender, correlationId: header.id))
            }
            // A FAILED VEE gets its command again even when the desired state stays: that is the retry.
            if changed || view.observed == .failed { command(view) }
            return encode(VEEsAccepted(vees: [view]), to: header.id)
        case .monitoringInformation:
            let request = try VMI.decode(MonitoringInformation.self, from: body).body
            var vee: String?
            if let name = request.vee {
                guard let found = try await inventory.vee(name) else { throw unknownVEE(name) }
                vee = found.id
            }
            return encode(MonitoringReport(vees: try await inventory.monitoring(vee: vee)), to: header.id)
        case .putMonitoringInformation:
            let request = try VMI.decode(PutMonitoringInformation.self, from: body).body
            guard let vee = try await inventory.vee(request.vee) else { throw unknownVEE(request.vee) }
            for (name, value) in request.kpis where name.isEmpty || !value.isFinite {
                throw VMIError(code: .invalidParameter, field: "kpis.\(name)",
                               message: "a KPI needs a name and a finite value")
            }
            try await inventory.recordSamples(vee: vee.id, source: "kpi", values: request.kpis,
                                              at: request.measuredAt ?? now)
            return encode(MonitoringReport(vees: try await inventory.monitoring(vee: vee.id)), to: header.id)
        case .siteMonitoringInformation:
            _ = try VMI.decode(SiteMonitoringInformation.self, from: body)
            return encode(SiteReport(site: configuration.site, hosts: try await inventory.hosts(),
                                     vees: try await inventory.vees()), to: header.id)
        default:
            throw VMIError(code: .unknownMessageType, field: "type",
                           message: "\(type.rawValue) is not a request the coordinator takes")
        }
    }

    /// Validates every spec (all problems at once), places them all or none, records them, and commands the hosts.
    private func admit(_ specs: [VEESpec], fieldPrefix: (Int) -> String, header: MessageHeader,
                       at now: Date) async throws -> [UInt8] {
        let problems = specs.enumerated().flatMap { $0.element.problems(at: fieldPrefix($0.offset)) }
        guard problems.isEmpty else { throw VMIErrors(all: problems) }
        let fields = specs.indices.map(fieldPrefix)
        let sender = self.sender
        let views = try await inventory.admit(specs, at: now, request: header.id) { hosts in
            switch FirstFit.place(specs, on: hosts) {
            case .success(let chosen): return chosen
            case .failure(let failure):
                throw VMIError(code: .insufficientCapacity, field: fields[failure.index],
                               message: "cannot place '\(specs[failure.index].name)': \(failure.reason)")
            }
        } reply: { views in
            VMI.encode(Envelope(body: VEEsAccepted(vees: views), sender: sender, correlationId: header.id))
        }
        for view in views {
            command(view)
            announce(SiteEvent(kind: .veePlaced, host: view.host, vee: view.id, state: view.desired,
                               message: "\(view.spec.name) placed on \(view.host)"))
        }
        return encode(VEEsAccepted(vees: views), to: header.id)
    }

    private func unknownVEE(_ name: String) -> VMIError {
        VMIError(code: .unknownVEE, field: "vee", message: "no VEE has id or name '\(name)'")
    }

    func encode<Body: VMIBody>(_ body: Body, to request: String) -> [UInt8] {
        VMI.encode(Envelope(body: body, sender: sender, correlationId: request))
    }

    func encodeError(_ errors: [VMIError], to request: String) -> [UInt8] {
        encode(ErrorReply(errors: errors), to: request)
    }
}

/// Several problems found at once (a spec with many bad fields).
struct VMIErrors: Error {
    var all: [VMIError]
}

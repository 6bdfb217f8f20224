import Cloud
import Foundation
import Inventory
import Messaging
import Placement
import VMI

/// What handling one message decided: sent only after the batch's transaction commits.
struct Outcome {
    var reply: [UInt8]?
    var requestId: String?
    var commands: [VEEView] = []
    var events: [SiteEvent] = []
    /// New peer lists for hosts whose networks' membership changed; sent before the commands.
    var networks: [HostNetworks] = []
    /// Keep the reply against re-delivery even though no VEE command went out (a changed EC2 resource).
    var recordReply = false
    /// A GetConsoleOutput for a host's agent to answer instead of `reply`, with the EC2 request id.
    var consoleRead: (read: ConsoleRead, ec2RequestId: String)?
    /// The test failpoint fired: the transaction must fail.
    var failpoint = false
}

/// What the test failpoint throws.
struct FailpointError: Error, CustomStringConvertible {
    var description: String { "failpoint VEEM_FAILPOINT_REQUESTS_FROM: this request fails the coordinator" }
}

/// VMI requests from clients: each gets one reply (VEEsAccepted, a report, or ErrorReply). Whatever has arrived is
/// handled in one transaction (group commit), each request in its own savepoint so a refused one changes nothing;
/// commands and replies go out and the requests are acked only after the commit. A re-delivered request gets the
/// recorded reply again.
extension CoordinatorService {
    func consumeRequests() async {
        let batches = connection.consumeBatches(queue: Topology.requestsQueue, prefetch: 512)
        await withDiscardingTaskGroup { readers in
            while let batch = await batches.next(limit: 256) {
                let now = Date()
                // Decoded before the transaction: the writer is the site's one serial resource.
                let messages = batch.map { delivery in Result { () throws(VMIError) in try VMI.open(delivery.body) } }
                // Calls that only read (EC2's Describe*) answer from snapshots, each on its own, while writes go on:
                // they neither wait for the writer nor hold it, and several run at once.
                for index in batch.indices where Self.readsOnly(messages[index]) {
                    readers.addTask { await self.answer([batch[index]], [messages[index]], now, readOnly: true) }
                }
                // A request delivered before without an ack may be what failed or killed the coordinator: it goes
                // alone, so that it cannot take the others down with it.
                let writes = batch.indices.filter { !Self.readsOnly(messages[$0]) }
                let (suspects, others) = (writes.filter { batch[$0].previousDeliveries > 0 },
                                          writes.filter { batch[$0].previousDeliveries == 0 })
                await answer(others.map { batch[$0] }, others.map { messages[$0] }, now, readOnly: false)
                for index in suspects { await answer([batch[index]], [messages[index]], now, readOnly: false) }
            }
        }
    }

    /// Handles requests in one transaction (a read one when they only read), then sends what they decided, replies,
    /// and acks them; when the inventory fails, nothing was committed and they go back to the queue.
    private func answer(_ batch: [Delivery], _ messages: [Result<Message, VMIError>], _ now: Date,
                        readOnly: Bool) async {
        guard !batch.isEmpty else { return }
        let outcomes: [Outcome]
        do {
            let handle: @Sendable (InventoryTransaction) throws -> [Outcome] = { tx in
                var outcomes = zip(batch, messages).map { self.handleRequest($0, $1, tx, now) }
                if outcomes.contains(where: \.failpoint) { throw FailpointError() }
                if !readOnly, !outcomes.isEmpty { outcomes[0].networks += try tx.takeNetworkChanges() }
                return outcomes
            }
            outcomes = try await readOnly ? inventory.read(handle) : inventory.write(handle)
        } catch let unavailable as InventoryUnavailable {
            // Retrying cannot help until an operator acts: refuse these writes now, keep answering reads.
            logger.error("requests refused: the inventory cannot be written",
                         metadata: ["error": "\(unavailable)", "size": "\(batch.count)"])
            let error = VMIError(code: .inventoryUnavailable,
                                 message: "\(unavailable); nothing was changed, reads are still answered")
            outcomes = zip(batch, messages).map { delivery, message in
                let id = (try? message.get())?.header.id ?? delivery.properties.messageId ?? "unknown"
                return Outcome(reply: encodeError([error], to: id), requestId: id)
            }
        } catch {
            logger.error("request batch not committed", metadata: ["error": "\(error)", "size": "\(batch.count)"])
            if batch.count > 1 {
                // One of them is to blame: each on its own, so that the rest commit.
                for (delivery, message) in zip(batch, messages) {
                    await answer([delivery], [message], now, readOnly: readOnly)
                }
                return
            }
            // Back to the queue; the broker counts the deliveries and, at the limit, dead-letters it (answered from
            // there).
            batch.forEach { connection.reject($0, requeue: true) }
            try? await Task.sleep(for: .milliseconds(200))
            return
        }
        for (delivery, outcome) in zip(batch, outcomes) {
            send(outcome)
            if let forward = outcome.consoleRead, let replyTo = delivery.properties.replyTo,
               let correlationId = outcome.requestId {
                readConsole(forward.read, ec2RequestId: forward.ec2RequestId, replyTo: replyTo,
                            correlationId: correlationId)
            }
            if let reply = outcome.reply, let replyTo = delivery.properties.replyTo {
                connection.post(exchange: "", routingKey: replyTo, body: reply,
                                properties: MessageProperties(correlationId: outcome.requestId, persistent: false),
                                mandatory: true) { [logger] result in
                    if case .failure(let error) = result {
                        logger.info("reply not delivered", metadata: ["to": "\(replyTo)", "error": "\(error)"])
                    }
                }
            } else if let reply = outcome.reply {
                // Nobody to answer: a refusal must still leave a trace.
                let refused = (try? VMI.decodeHeader(reply))?.1 == .errorReply
                let error = refused ? (try? VMI.decode(ErrorReply.self, from: reply))?.body.errors.first : nil
                logger.log(level: refused ? .warning : .notice, "request without reply_to: its answer is dropped",
                           metadata: ["request": "\(outcome.requestId ?? delivery.properties.messageId ?? "unknown")",
                                      "error": "\(error.map(String.init(describing:)) ?? "none")"])
            }
            connection.ack(delivery)
        }
    }

    /// Whether a request only reads the inventory, so a read transaction can answer it.
    static func readsOnly(_ message: Result<Message, VMIError>) -> Bool {
        guard case .success(let message) = message else { return false }
        if let call = message.body as? EC2Request { return CloudEngine.readsOnly(call.action) }
        return [.monitoringInformation, .serviceInformation, .accountInformation, .siteMonitoringInformation]
            .contains(message.type)
    }

    /// Keeps the events that exist only in an outcome (VEE events are recorded where the VEE changes).
    func record(_ outcome: Outcome, _ tx: InventoryTransaction, _ now: Date) throws {
        let kinds: Set<SiteEvent.Kind> = [.serviceStateChanged, .serviceScaled, .serviceShortfall, .veePreempted]
        for event in outcome.events where kinds.contains(event.kind) { try tx.appendEvent(event, at: now) }
    }

    /// Sends an outcome's commands and site events, in order.
    func send(_ outcome: Outcome) {
        outcome.networks.forEach(tellPeers)
        outcome.commands.forEach(command)
        outcome.events.forEach(announce)
    }

    func handleRequest(_ delivery: Delivery, _ decoded: Result<Message, VMIError>, _ tx: InventoryTransaction,
                       _ now: Date) -> Outcome {
        let message: Message
        do {
            message = try decoded.get()
        } catch {
            let id = delivery.properties.messageId ?? "unknown"
            return Outcome(reply: encodeError([error], to: id), requestId: id)
        }
        let id = message.header.id
        if let refusal = configuration.requesters?.refusal(of: message.type, from: delivery.properties.userId) {
            logger.warning("request refused: not authorised",
                           metadata: ["request": "\(id)", "type": "\(message.type.rawValue)",
                                      "user": "\(delivery.properties.userId ?? "none")"])
            return Outcome(reply: encodeError([refusal], to: id), requestId: id)
        }
        if let failpoint = configuration.failRequestsFrom, message.header.sender == failpoint {
            // The failpoint: this request fails the whole transaction, as a bug would.
            return Outcome(failpoint: true)
        }
        do {
            if let recorded = try tx.reply(forRequest: id) { return Outcome(reply: recorded, requestId: id) }
            return try tx.isolated {
                var outcome = try dispatch(message, tx, now)
                try record(outcome, tx, now)
                let changes: Set<MessageType> = [.veeUpdate, .scaleService, .undeployService, .submitService]
                if !outcome.commands.isEmpty || outcome.recordReply || changes.contains(message.type),
                   let reply = outcome.reply {
                    try tx.recordReply(reply, forRequest: id, at: now)
                }
                outcome.requestId = id
                return outcome
            }
        } catch let error as VMIError {
            return Outcome(reply: encodeError([error], to: id), requestId: id)
        } catch let errors as VMIErrors {
            return Outcome(reply: encodeError(errors.all, to: id), requestId: id)
        } catch {
            logger.error("request failed", metadata: ["type": "\(message.type.rawValue)", "error": "\(error)"])
            return Outcome(reply: encodeError([VMIError(code: .internalError, message: "\(error)")], to: id),
                           requestId: id)
        }
    }

    private func dispatch(_ message: Message, _ tx: InventoryTransaction, _ now: Date) throws -> Outcome {
        let id = message.header.id
        switch message.body {
        case let request as InitializeVEE:
            return try admit([request.vee], fields: ["vee"], request: id, tx, now)
        case let request as SubmitVEEs:
            guard !request.vees.isEmpty else {
                throw VMIError(code: .invalidParameter, field: "vees", message: "must list at least one VEE")
            }
            return try admit(request.vees, fields: request.vees.indices.map { "vees[\($0)]" }, request: id, tx, now)
        case let request as VEEUpdate:
            let (view, resend) = try control(request.vee, request.action, tx, now)
            return Outcome(reply: encode(VEEsAccepted(vees: [view]), to: id), commands: resend ? [view] : [])
        case let request as MonitoringInformation:
            var vee: String?
            if let name = request.vee {
                guard let found = try tx.vee(name) else { throw unknownVEE(name) }
                vee = found.id
            }
            return Outcome(reply: encode(MonitoringReport(vees: try tx.monitoring(vee: vee)), to: id))
        case let request as PutMonitoringInformation:
            for (name, value) in request.kpis where name.isEmpty || !value.isFinite {
                throw VMIError(code: .invalidParameter, field: "kpis.\(name)",
                               message: "a KPI needs a name and a finite value")
            }
            // "service/component": a probe speaking for a whole component (a load balancer, say).
            let parts = request.vee.split(separator: "/").map(String.init)
            if parts.count == 2, let record = try tx.serviceRecord(parts[0]), record.components[parts[1]] != nil {
                try tx.recordSamples(vee: request.vee, source: "kpi", values: request.kpis, at: request.measuredAt ?? now)
                return Outcome(reply: encode(MonitoringReport(vees: []), to: id))
            }
            guard let vee = try tx.vee(request.vee) else { throw unknownVEE(request.vee) }
            try tx.recordSamples(vee: vee.id, source: "kpi", values: request.kpis, at: request.measuredAt ?? now)
            return Outcome(reply: encode(MonitoringReport(vees: try tx.monitoring(vee: vee.id)), to: id))
        case let request as SubmitService:
            return try submitService(request, id: id, tx, now)
        case let request as ScaleService:
            return try scaleService(request, id: id, tx, now)
        case let request as UndeployService:
            return try undeployService(request, id: id, tx, now)
        case let request as ServiceInformation:
            let names = try request.service.map { [$0] } ?? tx.serviceRecords().map(\.name)
            let views = try names.compactMap { try serviceView($0, tx) }
            if let name = request.service, views.isEmpty {
                throw VMIError(code: .unknownService, field: "service", message: "no service named '\(name)'")
            }
            return Outcome(reply: encode(ServiceReport(services: views), to: id))
        case let request as EC2Request:
            return handleEC2(request, id: id, tx, now)
        case let request as CreateAccount:
            return try createAccount(request, id: id, tx, now)
        case is AccountInformation:
            return Outcome(reply: encode(AccountReport(accounts: try tx.accounts()), to: id))
        case is SiteMonitoringInformation:
            return Outcome(reply: encode(SiteReport(site: configuration.site, hosts: try tx.hosts(),
                                                    vees: try tx.vees()), to: id))
        default:
            throw VMIError(code: .unknownMessageType, field: "type",
                           message: "\(message.type.rawValue) is not a request the coordinator takes")
        }
    }

    /// Validates every spec (all problems at once), places them all or none, and records them.
    private func admit(_ specs: [VEESpec], fields: [String], request: String, _ tx: InventoryTransaction,
                       _ now: Date) throws -> Outcome {
        let problems = zip(specs, fields).flatMap { $0.problems(at: $1) }
        guard problems.isEmpty else { throw VMIErrors(all: problems) }
        let admissions = specs.map { Admission(spec: $0, slaClass: configuration.placement.loneVEEClass) }
        var outcome = Outcome()
        let views = try place(admissions, fields: fields, groups: nil, tx, now, &outcome)
        outcome.reply = encode(VEEsAccepted(vees: views), to: request)
        return outcome
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

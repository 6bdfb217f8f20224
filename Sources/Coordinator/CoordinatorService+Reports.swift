import Foundation
import Inventory
import Messaging
import VMI

/// Reports from agents: registrations, heartbeats, observed states and metrics, a batch per transaction.
extension CoordinatorService {
    func consumeReports() async {
        let batches = connection.consumeBatches(queue: Topology.reportsQueue, prefetch: 512)
        while let arrived = await batches.next(limit: 256) {
            let now = Date()
            // Console answers only pass through: no transaction.
            for delivery in arrived where delivery.routingKey.hasSuffix(".console") {
                relayConsole(delivery)
                connection.ack(delivery)
            }
            let batch = arrived.filter { !$0.routingKey.hasSuffix(".console") }
            // Decoded before the transaction: the writer is the site's one serial resource.
            let messages = batch.map { delivery in Result { () throws(VMIError) in try VMI.open(delivery.body) } }
            // Bound before its registration is handled, which may send it commands at once.
            if await !bindCommandQueues(of: batch, messages) { continue }
            let outcomes: [Outcome]
            do {
                outcomes = try await inventory.write { tx in
                    var outcomes = try zip(batch, messages).map { delivery, message in
                        do {
                            let message = try message.get()
                            try Self.checkSender(of: message, key: delivery.routingKey)
                            return try tx.isolated { try self.handleReport(message, tx, now) }
                        } catch is CancellationError {
                            throw CancellationError()
                        } catch {
                            self.logger.error("bad host report dropped",
                                              metadata: ["error": "\(error)", "key": "\(delivery.routingKey)"])
                            return Outcome()
                        }
                    }
                    if !outcomes.isEmpty { outcomes[0].networks += try tx.takeNetworkChanges() }
                    return outcomes
                }
            } catch is CancellationError {
                return  // shutting down: the batch comes back to the next coordinator unacked
            } catch {
                logger.error("report batch not committed", metadata: ["error": "\(error)", "size": "\(batch.count)"])
                batch.forEach { connection.reject($0, requeue: true) }
                reportsFlowing.withLock { $0 = nil }
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            reportsFlowing.withLock { $0 = $0 ?? .now }
            outcomes.forEach(send)
            batch.forEach(connection.ack)
        }
    }

    /// A report must be about the host whose key it was published under: the broker lets an agent publish only
    /// under its own host's keys (topic permissions), and this keeps it from speaking for another host in the body.
    static func checkSender(of message: Message, key: String) throws {
        let claimed: String? = switch message.body {
        case let body as HostRegistration: body.host
        case let body as Heartbeat: body.host
        case let body as VEEStateReport: body.host
        case let body as VEEMetrics: body.host
        case let body as GuestKPIs: body.host
        default: nil
        }
        guard let claimed, claimed != Topology.reportHost(key) else { return }
        throw VMIError(code: .invalidParameter, field: "host",
                       message: "a report about host '\(claimed)' was published as '\(key)'")
    }

    /// Declares the command queue and binding of each host registering in `batch` under its own key, or puts the
    /// batch back.
    private func bindCommandQueues(of batch: [Delivery], _ messages: [Result<Message, VMIError>]) async -> Bool {
        let hosts = Set(zip(batch, messages).compactMap { delivery, message -> String? in
            guard let message = try? message.get(), let registration = message.body as? HostRegistration,
                  (try? Self.checkSender(of: message, key: delivery.routingKey)) != nil
            else { return nil }
            return registration.host
        })
        do {
            for host in hosts.sorted() { try await connection.declare(Topology.agentCommands(host), once: true) }
            return true
        } catch {
            logger.error("cannot bind command queues", metadata: ["hosts": "\(hosts.sorted())", "error": "\(error)"])
            batch.forEach { connection.reject($0, requeue: true) }
            try? await Task.sleep(for: .seconds(1))
            return false
        }
    }

    func handleReport(_ message: Message, _ tx: InventoryTransaction, _ now: Date) throws -> Outcome {
        switch message.body {
        case let registration as HostRegistration:
            return try register(registration, tx, now)
        case let heartbeat as Heartbeat:
            let host = heartbeat.host
            switch try tx.heartbeat(host: host, at: now, sentAt: message.header.sentAt,
                                    window: livenessWindow.seconds) {
            case .known, .stale:
                return Outcome()
            case .cameBack:
                // Back from DOWN: whatever it missed goes again.
                let back = SiteEvent(kind: .hostUp, host: host, message: "host \(host) is back")
                try tx.appendEvent(back, at: now)
                return Outcome(commands: try tx.unconverged().filter { $0.host == host }, events: [back])
            case .unknown:
                // The inventory was lost or replaced while the agent ran: ask it to register again.
                requestRegistration(host)
                return Outcome()
            }
        case let report as VEEStateReport:
            return try observe(report.observation, from: report.host, tx, now)
        case let metrics as VEEMetrics:
            // Only rules read the history, and rules belong to services: a lone VEE's latest values are enough.
            let footprint = try tx.footprint()
            for (vee, values) in metrics.samples {
                try tx.recordSamples(vee: vee, source: "metric", values: values, at: now,
                                     history: footprint.isInService(vee))
            }
            return Outcome()
        case let kpis as GuestKPIs:
            return try takeGuestKPIs(kpis, tx)
        default:
            throw VMIError(code: .unknownMessageType, field: "type",
                           message: "\(message.type.rawValue) is not a host report")
        }
    }

    /// Probes' KPIs relayed by a host's metadata service: each a PutMonitoringInformation for its VEE, taken only
    /// for a VEE the inventory has on that host (an agent speaks for its own guests only).
    private func takeGuestKPIs(_ report: GuestKPIs, _ tx: InventoryTransaction) throws -> Outcome {
        let footprint = try tx.footprint()
        for sample in report.samples {
            guard let vee = try tx.vee(sample.vee), vee.id == sample.vee, vee.host == report.host else {
                logger.warning("guest KPIs dropped: the VEE is not on that host",
                               metadata: ["vee": "\(sample.vee)", "host": "\(report.host)"])
                continue
            }
            let kpis = sample.kpis.filter { !$0.key.isEmpty && $0.value.isFinite }
            try tx.recordSamples(vee: vee.id, source: "kpi", values: kpis, at: sample.measuredAt,
                                 history: footprint.isInService(vee.id))
        }
        return Outcome()
    }

    func requestRegistration(_ host: String) {
        connection.post(Envelope(body: RegistrationRequest(host: host), sender: sender),
                        exchange: Topology.commandsExchange, routingKey: host, mandatory: true) { [logger] error in
            logger.warning("registration request not delivered", metadata: ["host": "\(host)", "error": "\(error)"])
        }
    }

    /// A host (re)started: record it, take its observations, and send whatever it lacks.
    private func register(_ registration: HostRegistration, _ tx: InventoryTransaction, _ now: Date) throws -> Outcome {
        let host = registration.host
        try tx.register(registration, at: now)
        let up = SiteEvent(kind: .hostUp, host: host, message: "host \(host) registered (\(registration.domainType))")
        try tx.appendEvent(up, at: now)
        var outcome = Outcome(events: [up])
        // Its agent may have restarted and forgotten its peers.
        if registration.underlay != nil { outcome.networks.append(try tx.hostNetworks(host)) }
        let reported = Dictionary(registration.vees.map { ($0.vee, $0) }, uniquingKeysWith: { $1 })
        for observation in registration.vees {
            let observed = try observe(observation, from: host, tx, now)
            outcome.events += observed.events
            outcome.commands += observed.commands
        }
        let known = try tx.vees(onHost: host)
        for vee in known {
            let observed = reported[vee.id]?.state
            if observed == nil && vee.desired == .destroyed {
                _ = try tx.observe(VEEObservation(vee: vee.id, state: .destroyed), from: host, at: now)
            } else if observed != vee.desired {
                outcome.commands.append(vee)
            }
        }
        for unknown in Set(reported.keys).subtracting(known.map(\.id)) {
            logger.warning("host has a VEE the inventory does not know; left alone",
                           metadata: ["host": "\(host)", "vee": "\(unknown)"])
        }
        return outcome
    }

    /// Records what a host observed. A change made outside veem (virsh, or the guest itself) is handled by one
    /// policy: a lone VEE's is adopted as its desired state (as EC2 does for a guest that shuts itself down), and an
    /// undefined one is cleaned up (its disk and console log go); a service replica is brought back to the state its
    /// service wants (the manifest wins). Either way a VEE_CHANGED_OUTSIDE event names the change.
    private func observe(_ observation: VEEObservation, from host: String, _ tx: InventoryTransaction,
                         _ now: Date) throws -> Outcome {
        guard var view = try tx.observe(observation, from: host, at: now) else { return Outcome() }
        var outcome = Outcome()
        let wanted = view.desired
        if observation.spontaneous == true, observation.state.isStable, observation.state != wanted,
           wanted != .destroyed {
            let change = "\(view.spec.name) was \(wanted.rawValue), found \(observation.state.rawValue): "
                + "changed outside veem (virsh, or the guest itself)"
            if view.service != nil {
                outcome.commands.append(view)
                outcome.events.append(outsideChange(view, host, "\(change); restored to \(wanted.rawValue), as its service wants"))
            } else if let adopted = try tx.adoptObserved(view.id, at: now) {
                view = adopted
                // Gone from libvirt: the agent removes what the domain left behind.
                if adopted.desired == .destroyed { outcome.commands.append(adopted) }
                outcome.events.append(outsideChange(view, host, "\(change); adopted as its desired state"))
            }
            for event in outcome.events { try tx.appendEvent(event, at: now) }
        }
        outcome.events.insert(SiteEvent(kind: observation.state == .failed ? .veeFailed : .veeStateChanged,
                                        host: host, vee: view.id, state: observation.state,
                                        message: "\(view.spec.name) is \(observation.state.rawValue)"
                                            + (observation.error.map { ": \($0)" } ?? "")), at: 0)
        return outcome
    }

    private func outsideChange(_ view: VEEView, _ host: String, _ message: String) -> SiteEvent {
        logger.warning("VEE changed outside veem", metadata: ["vee": "\(view.id)", "host": "\(host)",
                                                              "change": "\(message)"])
        return SiteEvent(kind: .veeChangedOutside, host: host, vee: view.id, state: view.desired, message: message,
                         service: view.service)
    }
}

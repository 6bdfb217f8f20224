import Foundation
import Inventory
import Messaging
import VMI

/// Reports from agents: registrations, heartbeats, observed states and metrics.
extension CoordinatorService {
    func consumeReports() async {
        for await delivery in connection.consume(queue: Topology.reportsQueue, prefetch: 512) {
            logger.debug("report", metadata: ["key": "\(delivery.routingKey)"])
            do {
                try await handleReport(delivery.body)
            } catch {
                logger.error("bad host report dropped", metadata: ["error": "\(error)",
                                                                  "key": "\(delivery.routingKey)"])
            }
            connection.ack(delivery)
        }
    }

    func handleReport(_ body: [UInt8]) async throws {
        let (_, type) = try VMI.decodeHeader(body)
        let now = Date()
        switch type {
        case .hostRegistration:
            let registration = try VMI.decode(HostRegistration.self, from: body).body
            try await register(registration, at: now)
        case .heartbeat:
            let heartbeat = try VMI.decode(Heartbeat.self, from: body).body
            if try await inventory.heartbeat(host: heartbeat.host, at: now) {
                announce(SiteEvent(kind: .hostUp, host: heartbeat.host, message: "host \(heartbeat.host) is back"))
                try await resendUnconverged(onHost: heartbeat.host)
            }
        case .veeStateReport:
            let report = try VMI.decode(VEEStateReport.self, from: body).body
            try await observe(report.observation, from: report.host, at: now)
        case .veeMetrics:
            let metrics = try VMI.decode(VEEMetrics.self, from: body).body
            for (vee, values) in metrics.samples {
                try await inventory.recordSamples(vee: vee, source: "metric", values: values, at: now)
            }
        default:
            throw VMIError(code: .unknownMessageType, field: "type", message: "\(type.rawValue) is not a host report")
        }
    }

    /// A host (re)started: record it, take its observations, and send whatever it lacks.
    private func register(_ registration: HostRegistration, at now: Date) async throws {
        let host = registration.host
        try await inventory.register(registration, at: now)
        announce(SiteEvent(kind: .hostUp, host: host, message: "host \(host) registered (\(registration.domainType))"))
        let reported = Dictionary(registration.vees.map { ($0.vee, $0) }, uniquingKeysWith: { $1 })
        for observation in registration.vees { try await observe(observation, from: host, at: now) }
        for vee in try await inventory.vees(onHost: host) {
            let observed = reported[vee.id]?.state
            if observed == nil && vee.desired == .destroyed {
                _ = try await inventory.observe(VEEObservation(vee: vee.id, state: .destroyed), from: host, at: now)
            } else if observed != vee.desired {
                command(vee)
            }
        }
        let known = Set(try await inventory.vees(onHost: host).map(\.id))
        for unknown in reported.keys where !known.contains(unknown) {
            logger.warning("host has a VEE the inventory does not know; left alone",
                           metadata: ["host": "\(host)", "vee": "\(unknown)"])
        }
    }

    private func observe(_ observation: VEEObservation, from host: String, at now: Date) async throws {
        guard var view = try await inventory.observe(observation, from: host, at: now) else { return }
        if observation.spontaneous == true, let adopted = try await inventory.adoptObserved(view.id, at: now) {
            view = adopted
        }
        announce(SiteEvent(kind: observation.state == .failed ? .veeFailed : .veeStateChanged, host: host,
                           vee: view.id, state: observation.state,
                           message: "\(view.spec.name) is \(observation.state.rawValue)"
                               + (observation.error.map { ": \($0)" } ?? "")))
    }
}

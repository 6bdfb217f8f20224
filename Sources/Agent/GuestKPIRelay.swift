import Foundation
import Logging
import Messaging
import VMI

/// Carries what probes inside guests post to the metadata service to the coordinator, as `GuestKPIs` reports:
/// gathered for a moment and sent together, so that a thousand chatty probes cost a few messages a second. A VEE
/// that posts faster than that is told to slow down rather than queue without bound.
actor GuestKPIRelay {
    let host: String
    let connection: AMQPConnection
    let logger: Logger
    private var pending: [GuestKPIs.Sample] = []
    private var perVEE: [String: Int] = [:]
    private var wake: CheckedContinuation<Void, Never>?

    /// Samples one VEE may have waiting; a probe posting faster gets 429.
    static let maxPendingPerVEE = 16
    static let interval = Duration.milliseconds(250)

    init(host: String, connection: AMQPConnection, logger: Logger) {
        self.host = host
        self.connection = connection
        self.logger = logger
    }

    /// Takes a sample for sending; false when `vee` has too many waiting.
    func offer(vee: String, kpis: [String: Double]) -> Bool {
        guard perVEE[vee, default: 0] < Self.maxPendingPerVEE else { return false }
        perVEE[vee, default: 0] += 1
        pending.append(GuestKPIs.Sample(vee: vee, kpis: kpis, measuredAt: Date()))
        wake?.resume()
        wake = nil
        return true
    }

    func run() async {
        while !Task.isCancelled {
            if pending.isEmpty {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { wake = $0 }
                } onCancel: {
                    Task { await self.cancelWait() }
                }
                continue
            }
            let batch = pending
            pending = []
            perVEE = [:]
            do {
                try await connection.send(Envelope(body: GuestKPIs(host: host, samples: batch), sender: "agent/\(host)"),
                                          exchange: Topology.eventsExchange,
                                          routingKey: Topology.hostReportKey(host, "kpis"), persistent: false)
            } catch {
                logger.warning("guest KPIs not relayed", metadata: ["samples": "\(batch.count)", "error": "\(error)"])
            }
            try? await Task.sleep(for: Self.interval)
        }
    }

    private func cancelWait() {
        wake?.resume()
        wake = nil
    }
}

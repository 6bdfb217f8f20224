import BlockingIO
import Daemon
import EC2
import Foundation
import Hypervisor
import InstanceMetadata
import Logging
import Messaging
import ServiceLifecycle
import VMI

/// The agent of one compute host: executes the coordinator's commands on libvirt, reports what happens, and after
/// any restart reconciles the domains it owns with what it was told.
public final class AgentService: Service {
    public let configuration: AgentConfiguration
    let driver: any HypervisorDriver
    let connection: AMQPConnection
    let logger: Logger
    let onReady: @Sendable (String) -> Void
    let onProgress: @Sendable () -> Void
    let lanes = VEELanes()
    let state = AgentState()
    let networking: HostNetworking
    let kpiRelay: GuestKPIRelay

    /// `onReady` is called once the host is registered (the systemd READY point), with a status line; `onProgress`
    /// after every heartbeat the agent manages to send (the watchdog's evidence that it works).
    public init(configuration: AgentConfiguration, driver: any HypervisorDriver, connection: AMQPConnection,
                logger: Logger = Logger(label: "veem.agent"), onReady: @escaping @Sendable (String) -> Void = { _ in },
                onProgress: @escaping @Sendable () -> Void = {}) {
        self.onProgress = onProgress
        self.configuration = configuration
        self.driver = driver
        self.connection = connection
        self.logger = logger
        self.onReady = onReady
        networking = HostNetworking(underlay: configuration.underlayAddress,
                                    directory: configuration.networkDirectory, mtu: configuration.networkMTU,
                                    metadataPort: configuration.metadataPort, zone: configuration.group,
                                    logger: logger)
        kpiRelay = GuestKPIRelay(host: configuration.host, connection: connection, logger: logger)
    }

    var host: String { configuration.host }
    var sender: String { "agent/\(configuration.host)" }

    public func run() async throws {
        let images = try GuestImage.catalogue(in: configuration.imageDirectory)
        // An agent may start before any coordinator has ever run.
        try await connection.declareWhenSiteExists(Topology.agent(host))
        let facts = try await driver.hostFacts()
        let console = ConsoleWatcher(directory: configuration.consoleDirectory)
        try? FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        let domainType = await DomainTypeProbe(
            driver: driver, images: images, console: console,
            cacheFile: "\(configuration.stateDirectory)/domain-type", logger: logger
        ).choose(configured: configuration.domainType, facts: facts)
        let converger = Converger(
            host: host, domainType: domainType, driver: driver, images: images, console: console,
            bootTimeout: configuration.bootTimeout, networking: networking, progress: { [self] in await report($0) },
            unreachable: { [logger] error in
                logger.warning("libvirtd unreachable, the command waits for it", metadata: ["error": "\(error)"])
            })
        if networking.enabled, let port = configuration.metadataPort {
            // Before the first pass, which opens a listener on each network's bridge.
            let tokens = try MetadataTokens.persistent(at: "\(configuration.stateDirectory)/metadata-token.key")
            await networking.serveMetadata(MetadataServer(
                port: port, tokens: tokens, logger: logger,
                lookup: { [networking] vni, address in await networking.guest(vni: vni, address: address) },
                relay: { [kpiRelay] vee, kpis in await kpiRelay.offer(vee: vee, kpis: kpis) }))
        }
        let observations = try await reconcile(converger)
        try await register(facts: facts, domainType: domainType, images: images, observations: observations)
        // Asked again later (the coordinator lost its inventory): what libvirt has now.
        let registerAgain: @Sendable () async throws -> Void = { [self] in
            let owned = try await driver.ownedDomains(host: host)
            try await register(facts: facts, domainType: domainType, images: images,
                               observations: owned.map { VEEObservation(vee: $0.vee, state: $0.status.veeState) })
        }
        logger.info("agent ready", metadata: ["host": "\(host)", "domainType": "\(domainType)",
                                              "adopted": "\(observations.count)"])
        onReady("host \(host) registered (\(domainType), \(observations.count) VEEs adopted)")
        try await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await self.heartbeats() }
                group.addTask { await self.publishMetrics() }
                group.addTask { await self.watchEvents() }
                group.addTask { await self.keepNetworks() }
                group.addTask { await self.kpiRelay.run() }
                group.addTask { await self.consumeCommands(converger, registration: registerAgain) }
            }
        }
    }

    /// Adopts every domain carrying this host's metadata and converges each to the state recorded on it.
    func reconcile(_ converger: Converger) async throws -> [VEEObservation] {
        let owned = try await driver.ownedDomains(host: host)
        var observations: [VEEObservation] = []
        if networking.enabled {
            // The host's networks as its VEEs need them, rebuilt before any of them is converged; anything veem
            // made for a network none of them is on any more goes.
            for domain in owned { await networking.adopt(networking.guest(domain.record)) }
            do {
                try await networking.settle()
            } catch {
                logger.error("host networks not rebuilt; they are tried again", metadata: ["error": "\(error)"])
            }
        } else {
            logger.notice("host networking off: VEEs' networks are not wired here (set VEEM_UNDERLAY_ADDRESS)")
        }
        for domain in owned {
            let current = domain.status.veeState
            await state.adopt(domain.vee, state: current)
            guard domain.record.desired.isStable, domain.record.desired != current else {
                observations.append(VEEObservation(vee: domain.vee, state: current))
                continue
            }
            let command = ConvergeVEE(vee: domain.vee, spec: domain.record.spec, desired: domain.record.desired,
                                      generation: domain.record.generation, reboots: domain.record.reboots,
                                      interfaces: domain.record.interfaces)
            let result = await converger.converge(command)
            _ = await state.noteReport(result)
            observations.append(result)
        }
        return observations
    }

    func register(facts: HostFacts, domainType: String, images: [String: GuestImage],
                  observations: [VEEObservation]) async throws {
        let disk = (try? FileManager.default.attributesOfFileSystem(forPath: configuration.stateDirectory))?[.systemSize]
            as? NSNumber
        let registration = HostRegistration(
            host: host, hypervisor: "\(facts.driver) \(facts.version)", domainType: domainType,
            capacity: Resources(cpus: facts.cpus, memoryMiB: facts.memoryMiB,
                                diskGiB: Int((disk?.int64Value ?? 0) >> 30)),
            images: images.keys.sorted(), vees: observations, group: configuration.group,
            underlay: configuration.underlayAddress)
        // Mandatory: at a site's first boot the exchange can exist a moment before the reports queue is bound to
        // it, and a registration dropped then is never asked for again (the coordinator binds this host's command
        // queue only when it registers).
        var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(5))
        var warned = false
        while true {
            do {
                return try await connection.send(Envelope(body: registration, sender: sender),
                                                 exchange: Topology.eventsExchange,
                                                 routingKey: Topology.hostReportKey(host, "registration"),
                                                 mandatory: true)
            } catch MessagingError.unroutable(_, _) {
                if !warned {
                    logger.warning("no queue takes host reports yet (the coordinator declares it); registering again")
                    warned = true
                }
                try await Task.sleep(for: backoff.next())
            }
        }
    }

    /// Publishes an observed state (deduplicated against the last one reported).
    func report(_ observation: VEEObservation) async {
        guard await state.noteReport(observation) else { return }
        do {
            try await connection.send(Envelope(body: VEEStateReport(host: host, observation: observation), sender: sender),
                                      exchange: Topology.eventsExchange, routingKey: Topology.hostReportKey(host, "state"))
        } catch {
            logger.error("cannot report VEE state", metadata: ["vee": "\(observation.vee)", "error": "\(error)"])
        }
    }

    func consumeCommands(_ converger: Converger, registration: @escaping @Sendable () async throws -> Void) async {
        for await delivery in connection.consume(queue: Topology.agentQueue(host), prefetch: 256) {
            let command: ConvergeVEE
            do {
                let message = try VMI.open(delivery.body)
                if let read = message.body as? ConsoleOutputRequest {
                    await answer(read, sentAt: message.header.sentAt)
                    connection.ack(delivery)
                    continue
                }
                if let networks = message.body as? HostNetworks {
                    await lanes.submit("networks") { [self] in
                        do {
                            try await networking.setPeers(networks)
                        } catch {
                            logger.error("network peers not applied", metadata: ["error": "\(error)"])
                        }
                        connection.ack(delivery)
                    }
                    continue
                }
                if message.body is RegistrationRequest {
                    do {
                        try await registration()
                        connection.ack(delivery)
                    } catch {
                        logger.warning("cannot register again", metadata: ["error": "\(error)"])
                        connection.reject(delivery, requeue: true)
                    }
                    continue
                }
                command = try message.body(as: ConvergeVEE.self)
            } catch {
                logger.error("dropping a bad command", metadata: ["error": "\(error)"])
                connection.reject(delivery, requeue: false)
                continue
            }
            await state.adopt(command.vee, state: .pending)
            await lanes.submit(command.vee) { [self] in
                let result = await converger.converge(command)
                await report(result)
                // Ack only now: a crash before this point gets the command back after the restart.
                connection.ack(delivery)
            }
        }
    }

    /// GetConsoleOutput, answered to the coordinator, which relays it to the gateway: the latest 64 KiB of the
    /// guest's serial console. A request older than any gateway waits (it sat in the queue while this agent was
    /// down) is dropped.
    func answer(_ read: ConsoleOutputRequest, sentAt: Date) async {
        guard Date().timeIntervalSince(sentAt) < 60 else { return }
        let path = ConsoleWatcher(directory: configuration.consoleDirectory).path(for: read.vee)
        let console = (try? ConsoleWatcher.tail(of: path, bytes: EC2XML.consoleOutputLimit)) ?? Data()
        let xml = EC2XML.consoleOutput(instanceId: read.instanceId, requestId: read.requestId, console: console,
                                       at: Date())
        do {
            try await connection.send(Envelope(body: EC2Reply(status: 200, xml: xml), sender: sender,
                                               correlationId: read.correlationId),
                                      exchange: Topology.eventsExchange,
                                      routingKey: Topology.hostReportKey(host, "console"), mandatory: true,
                                      persistent: false)
        } catch {
            logger.info("console output not delivered", metadata: ["vee": "\(read.vee)", "error": "\(error)"])
        }
    }

    /// Reports changes that did not come from a command: the guest powered off, libvirt lost the domain. Each check
    /// waits behind the VEE's command in progress (an event must never be lost because a command was running);
    /// changes a command made itself are already reported, and de-duplication drops them.
    func watchEvents() async {
        for await event in driver.events() {
            if event.kind == .reconnected {
                logger.info("connected to libvirtd again: looking at every VEE")
                for vee in await state.ownedVEEs { await recheck(vee, undefined: false) }
                continue
            }
            let vee = event.uuid
            guard await state.owns(vee) else { continue }
            await recheck(vee, undefined: event.kind == .undefined)
        }
    }

    /// Reports what libvirt has for `vee` now, behind its command in progress. `undefined`: a missing domain means
    /// it was undefined (rather than a lookup that failed).
    func recheck(_ vee: String, undefined: Bool) async {
        await lanes.submit(vee) { [self] in
            let status: DomainStatus?
            do { status = try await driver.status(of: vee) } catch { return }
            guard let status else {
                if undefined { await report(VEEObservation(vee: vee, state: .destroyed, spontaneous: true)) }
                return
            }
            await report(VEEObservation(vee: vee, state: status.veeState, spontaneous: true))
        }
    }

    /// Looks at the host's networks again now and then: what someone removed or changed by hand comes back.
    func keepNetworks() async {
        guard networking.enabled else { return }
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(30))
            try? await networking.settle()
        }
    }

    func heartbeats() async {
        var sequence: UInt64 = 0
        while !Task.isCancelled {
            sequence += 1
            let running = (try? await driver.runningDomainCount()) ?? -1
            do {
                try await connection.send(
                    Envelope(body: Heartbeat(host: host, sequence: sequence, runningDomains: running), sender: sender),
                    exchange: Topology.eventsExchange, routingKey: Topology.hostReportKey(host, "heartbeat"),
                    persistent: false, timeout: configuration.heartbeatInterval)
                onProgress()
            } catch {
                logger.warning("heartbeat not sent", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.heartbeatInterval)
        }
    }

    func publishMetrics() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.metricsInterval)
            guard let statistics = try? await driver.statistics() else { continue }
            var samples: [String: [String: Double]] = [:]
            for (vee, fields) in statistics where await state.owns(vee) {
                var metrics: [String: Double] = [:]
                if let time = fields["cpu.time"],
                   let load = await state.cpuLoad(vee: vee, cpuTimeNanoseconds: time,
                                                  vcpus: fields["vcpu.current"] ?? 1) {
                    metrics["cpu.load"] = load
                }
                if let memory = fields["balloon.current"] { metrics["memory.actualKiB"] = memory }
                if let rss = fields["balloon.rss"] { metrics["memory.rssKiB"] = rss }
                if let vcpus = fields["vcpu.current"] { metrics["vcpu.current"] = vcpus }
                if let state = fields["state.state"] { metrics["libvirt.state"] = state }
                samples[vee] = metrics
            }
            guard !samples.isEmpty else { continue }
            try? await connection.send(Envelope(body: VEEMetrics(host: host, samples: samples), sender: sender),
                                       exchange: Topology.eventsExchange,
                                       routingKey: Topology.hostReportKey(host, "metrics"), persistent: false)
        }
    }
}

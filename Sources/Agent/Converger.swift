import Foundation
import Hypervisor
import Logging
import VMI

/// Brings one VEE's domain from whatever libvirt has to the desired state, step by step. Level-triggered: running it
/// twice with the same command does nothing the second time.
struct Converger: Sendable {
    let host: String
    let domainType: String
    let driver: any HypervisorDriver
    let images: [String: GuestImage]
    let console: ConsoleWatcher
    let bootTimeout: Duration
    /// The host's networks: a VEE's are wired before its domain starts, and unwired once it is destroyed.
    let networking: HostNetworking
    /// Reports an intermediate state (BOOTING, SHUTTING_DOWN) while the work goes on.
    let progress: @Sendable (VEEObservation) async -> Void
    /// Told each time a command waits for libvirtd.
    var unreachable: @Sendable (HypervisorError) async -> Void = { _ in }

    /// Converges and returns the state reached; a failure comes back as FAILED with libvirt's reason. While
    /// libvirtd cannot be reached (restarting, upgraded) the command waits and is tried again: a VEE is not FAILED
    /// because its host's libvirtd was away for a moment. Safe to repeat, since each step looks before it acts.
    func converge(_ command: ConvergeVEE) async -> VEEObservation {
        var delay = Duration.milliseconds(250)
        while true {
            do {
                let state = try await apply(command)
                return VEEObservation(vee: command.vee, state: state)
            } catch let error as HypervisorError where error.isConnectionLost && !Task.isCancelled {
                await unreachable(error)
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            } catch {
                return VEEObservation(vee: command.vee, state: .failed, error: "\(error)")
            }
        }
    }

    private func apply(_ command: ConvergeVEE) async throws -> VEEState {
        let vee = command.vee
        if command.desired == .destroyed { return try await destroy(vee) }
        let record = DomainRecord(vee: vee, host: host, spec: command.spec, desired: command.desired,
                                  generation: command.generation, reboots: command.reboots ?? 0,
                                  interfaces: command.interfaces ?? [])
        var status: DomainStatus
        var definedNow = false
        // A reboot asked for since the domain last recorded one. Recorded before it is carried out, so a crash in
        // between loses it rather than repeating it.
        var rebootDue = false
        if let (existing, recorded) = try await driver.inspect(vee) {
            // Commands may arrive out of order after a reconnect: an older generation is already superseded.
            if let recorded, recorded.generation > command.generation { return existing.veeState }
            rebootDue = record.reboots > (recorded?.reboots ?? 0)
            // Record what we were told first: after a crash, the agent's restart converges to it.
            if recorded != record { try await driver.setRecord(record) }
            status = existing
        } else {
            try await define(record)
            definedNow = true
            status = .shutoff(managedSave: false)
        }
        switch command.desired {
        case .defined:
            return try await stop(vee, from: status, timeout: .seconds(command.shutdownTimeout))
        case .active:
            if rebootDue, status == .running { return try await reboot(record, timeout: command.shutdownTimeout) }
            return try await activate(record, from: status, definedNow: definedNow)
        case .paused:
            if status == .paused { return .paused }
            // After activate the domain runs, whatever it was before.
            if status != .running { _ = try await activate(record, from: status, definedNow: definedNow) }
            try await driver.pause(vee)
            return .paused
        case .suspended:
            if status == .shutoff(managedSave: true) { return .suspended }
            if case .shutoff = status { _ = try await activate(record, from: status, definedNow: definedNow) }
            try await driver.managedSave(vee)
            return .suspended
        default:
            throw VMIError(code: .invalidParameter, field: "desired",
                           message: "\(command.desired.rawValue) is not a state a VEE can be asked for")
        }
    }

    private func define(_ record: DomainRecord) async throws {
        guard let image = images[record.spec.image] else {
            throw VMIError(code: .invalidParameter, field: "spec.image",
                           message: "host \(host) has no image '\(record.spec.image)'")
        }
        let disk = record.spec.diskGiB > 0
            ? try await driver.ensureDisk(record.vee, sizeGiB: record.spec.diskGiB, backing: image.disk) : nil
        let xml = DomainXML.domain(record: record, domainType: domainType, image: image, diskPath: disk,
                                   consolePath: console.path(for: record.vee),
                                   interfaces: networking.domainInterfaces(record.interfaces))
        try await driver.define(xml: xml)
    }

    /// `definedNow`: the domain was defined from `record` a moment ago, so a cold boot need not define it again.
    private func activate(_ record: DomainRecord, from status: DomainStatus, definedNow: Bool) async throws
        -> VEEState {
        let vee = record.vee, spec = record.spec
        switch status {
        case .running:
            // Found running with its console lacking the marker: a boot that a restart (of this agent or of
            // libvirtd) interrupted the waiting for. It is ACTIVE only once the guest shows it booted.
            if let marker = images[spec.image]?.bootMarker, console.exists(vee), !console.shows(marker, vee: vee) {
                try await awaitBoot(vee, marker: marker)
            }
            return .active
        case .paused:
            try await driver.resume(vee)
            return .active
        case .shutoff(managedSave: true):
            // Restoring a managed save resumes the guest where it was: no boot to wait for.
            try await start(record)
            return .active
        case .shutoff(managedSave: false), .crashed, .shuttingDown:
            if status != .shutoff(managedSave: false) { try? await driver.powerOff(vee) }
            // A cold boot takes the spec as it is now (a resize waits for this moment).
            if !definedNow { try await define(record) }
            // Without a marker to wait for, the hypervisor writes the console log itself; nothing reads it here.
            guard let marker = images[spec.image]?.bootMarker else {
                try await start(record)
                return .active
            }
            console.reset(vee)
            try await start(record)
            try await awaitBoot(vee, marker: marker)
            return .active
        }
    }

    /// RebootInstances: ask the guest (ACPI); if its boot marker does not come back within `timeout`, reset it.
    /// Without a marker to judge by, the request alone is the reboot.
    private func reboot(_ record: DomainRecord, timeout: Double) async throws -> VEEState {
        let vee = record.vee
        guard let marker = images[record.spec.image]?.bootMarker else {
            try await driver.reboot(vee)
            return .active
        }
        console.reset(vee)
        await progress(VEEObservation(vee: vee, state: .booting))
        try await driver.reboot(vee)
        let running = stillRunning(vee)
        if await console.waitForMarker(marker, vee: vee, timeout: .milliseconds(Int64(timeout * 1000)),
                                      stillRunning: running) {
            return .active
        }
        console.reset(vee)
        try await driver.reset(vee)
        guard await console.waitForMarker(marker, vee: vee, timeout: bootTimeout, stillRunning: running) else {
            throw VMIError(code: .timeout, message: "the guest did not show its boot marker within \(bootTimeout) "
                + "of a reset")
        }
        return .active
    }

    /// Starts the domain. One found running when the start failed was started in between by another converge of
    /// the same command (an agent being replaced still finishing its last one): that is the state wanted.
    private func start(_ record: DomainRecord) async throws {
        let vee = record.vee
        try await networking.attach(networking.guest(record))
        do {
            try await driver.start(vee)
        } catch {
            guard (try? await driver.status(of: vee)) == .running else { throw error }
        }
    }

    /// Reports BOOTING and waits for the guest's marker; throws a timeout when it does not come.
    private func awaitBoot(_ vee: String, marker: String) async throws {
        await progress(VEEObservation(vee: vee, state: .booting))
        guard await console.waitForMarker(marker, vee: vee, timeout: bootTimeout, stillRunning: stillRunning(vee)) else {
            throw VMIError(code: .timeout, message: "the guest did not show its boot marker within \(bootTimeout)")
        }
    }

    /// Whether the domain still runs while its boot is awaited. Unknown while libvirtd is away counts as running:
    /// the guest goes on booting without libvirtd, and its marker still decides.
    private func stillRunning(_ vee: String) -> @Sendable () async -> Bool {
        let driver = self.driver
        return {
            do { return try await driver.status(of: vee) == .running } catch { return true }
        }
    }

    /// SHUTDOWN: ask the guest, then power off once `timeout` passes.
    private func stop(_ vee: String, from status: DomainStatus, timeout: Duration) async throws -> VEEState {
        switch status {
        case .shutoff:
            return .defined
        case .paused, .crashed:
            try await driver.powerOff(vee)
            return .defined
        case .running, .shuttingDown:
            await progress(VEEObservation(vee: vee, state: .shuttingDown))
            try await driver.requestShutdown(vee)
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if case .shutoff? = try await driver.status(of: vee) { return .defined }
                try await Task.sleep(for: .milliseconds(100))
            }
            try await driver.powerOff(vee)
            return .defined
        }
    }

    /// DESTROY: power off, undefine with any managed save, delete the disk and console log.
    private func destroy(_ vee: String) async throws -> VEEState {
        if let status = try await driver.status(of: vee) {
            if status == .running || status == .paused || status == .shuttingDown || status == .crashed {
                try await driver.powerOff(vee)
            }
            try await driver.undefine(vee)
        }
        try await driver.deleteDisk(vee)
        console.remove(vee)
        // The domain is gone whatever happens to its network: a pass that fails here is tried again later.
        try? await networking.detach(vee)
        return .destroyed
    }
}

extension DomainStatus {
    /// The VMI state a domain in this status is in.
    var veeState: VEEState {
        switch self {
        case .running: .active
        case .paused: .paused
        case .shutoff(let managedSave): managedSave ? .suspended : .defined
        case .shuttingDown: .shuttingDown
        case .crashed: .failed
        }
    }
}

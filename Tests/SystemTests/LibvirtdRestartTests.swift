import Foundation
import Hypervisor
import Testing
import VeemTestSupport

/// The driver outlives its libvirtd: after a restart the next call opens a new connection, lifecycle events come
/// again, and a `.reconnected` event says that some may have been missed.
@Suite(.serialized) struct LibvirtdRestartTests {
    @Test func theDriverReconnectsAfterLibvirtdRestarts() async throws {
        let libvirtd = try await PrivateLibvirtd.start()
        do {
            try await run(libvirtd)
            await libvirtd.shutdown()
        } catch {
            await libvirtd.shutdown()
            throw error
        }
    }

    func run(_ libvirtd: PrivateLibvirtd) async throws {
        let driver = try await LibvirtDriver.open(uri: libvirtd.uri, diskDirectory: libvirtd.directory + "/disks")
        let before = try await driver.hostFacts()
        var events = driver.events().makeAsyncIterator()
        try await libvirtd.restart()
        // A call may still meet the dead connection (its error says so); one soon opens a new one.
        let back = try await eventually(timeout: .seconds(10)) { (try? await driver.hostFacts()) != nil }
        #expect(back, "the driver reconnected")
        let after = try await driver.hostFacts()
        #expect(after.cpus == before.cpus && after.driver == before.driver)
        let reconnected = await events.next()
        #expect(reconnected?.kind == .reconnected)
        #expect(try await driver.runningDomainCount() == 0)
        await libvirtd.stop()
        do {
            _ = try await driver.hostFacts()
            Issue.record("a call with libvirtd stopped succeeded")
        } catch let error as HypervisorError {
            #expect(error.isConnectionLost, "\(error)")
        }
    }
}

import Foundation
import Inventory
import VMI

/// What the cloud actions need from the site, inside the caller's transaction: placing VEEs, changing their state,
/// deploying services. The coordinator provides it; tests of pure logic may fake it.
public protocol CloudSiteOperations {
    /// Places and records VEEs (all or none), restricted to `zone` (a host group) when given.
    func launch(_ admissions: [Admission], zone: String?, _ tx: InventoryTransaction, _ now: Date,
                _ effects: inout CloudEffects) throws -> [VEEView]
    /// Applies a VMI control action to a VEE (by id).
    func control(_ vee: String, _ action: VEEAction, _ tx: InventoryTransaction, _ now: Date,
                 _ effects: inout CloudEffects) throws -> VEEView
    /// Records a new size for a VEE, taken at its next cold boot, if its host has room for the growth; nil if not.
    func resize(_ vee: VEEView, to spec: VEESpec, _ tx: InventoryTransaction, _ now: Date,
                _ effects: inout CloudEffects) throws -> VEEView?
    /// Deploys a service manifest.
    func submitService(_ manifest: String, _ tx: InventoryTransaction, _ now: Date,
                       _ effects: inout CloudEffects) throws -> ServiceView
    /// Undeploys a service.
    func undeployService(_ name: String, _ tx: InventoryTransaction, _ now: Date,
                         _ effects: inout CloudEffects) throws -> ServiceView
    func service(_ name: String, _ tx: InventoryTransaction) throws -> ServiceView?
}

/// What a call asks of the site once its transaction commits: commands for agents and site events.
public struct CloudEffects: Sendable {
    public var commands: [VEEView] = []
    public var events: [SiteEvent] = []
    /// A console to read on a host, whose agent answers the call itself (GetConsoleOutput).
    public var consoleRead: ConsoleRead?
    public init() {}
}

/// GetConsoleOutput handed to the agent of `host`.
public struct ConsoleRead: Sendable, Equatable {
    public var vee: String
    public var host: String
    public var instanceId: String
}

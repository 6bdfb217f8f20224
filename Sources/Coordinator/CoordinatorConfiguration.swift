import Cloud
import Daemon
import Foundation
import Inventory
import Placement
import VMI

/// How a site's coordinator runs.
public struct CoordinatorConfiguration: Sendable {
    public var site: String
    public var databasePath: String
    /// The agents' heartbeat interval; a host is down after `missedHeartbeats` of them pass in silence.
    public var heartbeatInterval: Duration
    public var missedHeartbeats: Int
    /// How long a SHUTDOWN waits for the guest before powering it off.
    public var shutdownTimeout: Duration
    public var placement: SitePlacement
    /// What EC2 clients see: images, instance types, public addresses (the region is the site).
    public var cloud: CloudSite
    /// A failpoint for fault tests (`VEEM_FAILPOINT_REQUESTS_FROM`): requests whose envelope names this sender fail
    /// the coordinator as a bug would, every time. Never set in production.
    public var failRequestsFrom: String?
    /// Who may send which requests; nil: anyone the broker lets publish them.
    public var requesters: Requesters?
    /// Where networks that name no subnet take one (`VEEM_NETWORK_POOL`, `VEEM_NETWORK_PREFIX`).
    public var networkPool: NetworkPool = .default

    public init(site: String = "site1", databasePath: String, heartbeatInterval: Duration = .seconds(5),
                missedHeartbeats: Int = 3, shutdownTimeout: Duration = .seconds(60),
                placement: SitePlacement = SitePlacement(), cloud: CloudSite? = nil) {
        self.cloud = cloud ?? CloudSite(region: site)
        self.placement = placement
        self.site = site
        self.databasePath = databasePath
        self.heartbeatInterval = heartbeatInterval
        self.missedHeartbeats = missedHeartbeats
        self.shutdownTimeout = shutdownTimeout
    }

    /// Reads `VEEM_SITE`, `VEEM_DATABASE`, `VEEM_HEARTBEAT_SECONDS`, `VEEM_MISSED_HEARTBEATS`,
    /// `VEEM_SHUTDOWN_TIMEOUT_SECONDS`, `VEEM_PLACEMENT_WEIGHER` (pack, spread, load-aware), `VEEM_PREEMPTION`
    /// (on, off), `VEEM_SLA_CLASSES` (see `SLAClassSettings`), `VEEM_LONE_VEE_CLASS` (default Gold), and for EC2
    /// clients `VEEM_EC2_IMAGES`, `VEEM_INSTANCE_TYPES`, `VEEM_PUBLIC_ADDRESSES` (see `CloudSettings`), and
    /// `VEEM_OPERATOR_USERS`, `VEEM_GATEWAY_USERS` (see `Requesters`).
    public init(settings: Settings) throws {
        let missed = settings.string("VEEM_MISSED_HEARTBEATS", default: "3")
        guard let missedHeartbeats = Int(missed), missedHeartbeats > 0 else {
            throw SettingsError(message: "VEEM_MISSED_HEARTBEATS must be a positive whole number, got '\(missed)'")
        }
        let weigherName = settings.string("VEEM_PLACEMENT_WEIGHER", default: "pack")
        guard let weigher = Weigher(rawValue: weigherName) else {
            throw SettingsError(message: "VEEM_PLACEMENT_WEIGHER must be pack, spread or load-aware, got '\(weigherName)'")
        }
        let preemption = settings.string("VEEM_PREEMPTION", default: "off")
        guard ["on", "off"].contains(preemption) else {
            throw SettingsError(message: "VEEM_PREEMPTION must be on or off, got '\(preemption)'")
        }
        let classes = try settings["VEEM_SLA_CLASSES"].map(SLAClassSettings.parse) ?? [.gold, .bronze]
        let lone = settings.string("VEEM_LONE_VEE_CLASS", default: classes.contains { $0.name == "Gold" }
                                   ? "Gold" : classes[0].name)
        guard classes.contains(where: { $0.name == lone }) else {
            throw SettingsError(message: "VEEM_LONE_VEE_CLASS names '\(lone)', which VEEM_SLA_CLASSES does not define")
        }
        let site = settings.string("VEEM_SITE", default: "site1")
        self.init(site: site,
                  databasePath: settings.string("VEEM_DATABASE", default: "/var/lib/veem/coordinator.sqlite"),
                  heartbeatInterval: try settings.seconds("VEEM_HEARTBEAT_SECONDS", default: 5),
                  missedHeartbeats: missedHeartbeats,
                  shutdownTimeout: try settings.seconds("VEEM_SHUTDOWN_TIMEOUT_SECONDS", default: 60),
                  placement: SitePlacement(classes: classes, loneVEEClass: lone, weigher: weigher,
                                           preemption: preemption == "on"),
                  cloud: try CloudSettings.site(region: site, settings: settings))
        failRequestsFrom = settings["VEEM_FAILPOINT_REQUESTS_FROM"]
        requesters = try Requesters.from(settings)
        networkPool = try Self.networkPool(settings)
    }

    static func networkPool(_ settings: Settings) throws -> NetworkPool {
        let poolText = settings.string("VEEM_NETWORK_POOL", default: NetworkPool.default.pool.description)
        guard let pool = IPv4Network(poolText) else {
            throw SettingsError(message: "VEEM_NETWORK_POOL must be an IPv4 subnet such as 10.128.0.0/9, got '\(poolText)'")
        }
        let prefixText = settings.string("VEEM_NETWORK_PREFIX", default: String(NetworkPool.default.prefixLength))
        guard let prefix = Int(prefixText), (max(pool.prefixLength, 16)...29).contains(prefix) else {
            throw SettingsError(message: "VEEM_NETWORK_PREFIX must be a prefix length from "
                                + "\(max(pool.prefixLength, 16)) to 29 (inside VEEM_NETWORK_POOL), got '\(prefixText)'")
        }
        return NetworkPool(pool: pool, prefixLength: prefix)
    }
}

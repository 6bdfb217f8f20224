import Daemon
import Foundation
import Messaging
import VMI

/// How an agent runs on its host.
public struct AgentConfiguration: Sendable {
    /// This host's id in the site: letters, digits, '.', '_', '-'.
    public var host: String
    /// libvirt URI, e.g. `qemu:///system` or `test:///default`.
    public var libvirtURI: String
    /// `kvm`, `qemu` or `auto` (probe whether KVM really boots, else TCG).
    public var domainType: String
    public var imageDirectory: String
    public var stateDirectory: String
    public var heartbeatInterval: Duration
    public var metricsInterval: Duration
    /// How long a cold boot may take to show its console marker.
    public var bootTimeout: Duration
    /// This host's group, for `Deploy(C) = {…}` directives.
    public var group: String
    /// This host's address on the underlay, where other hosts' VXLAN segments reach it (`VEEM_UNDERLAY_ADDRESS`).
    /// Unset: the host wires no networks (VEEs get no interfaces here).
    public var underlayAddress: String?
    /// Where each network's DHCP server keeps its files (`VEEM_NETWORK_DIR`).
    public var networkDirectory = "/run/veem/networks"
    /// The MTU of networks' devices and VEE interfaces (`VEEM_NETWORK_MTU`): the underlay's less 50 for VXLAN.
    public var networkMTU = 1450
    /// The port of each network's metadata listener on its bridge (`VEEM_METADATA_PORT`; `off` for none). Guests
    /// ask 169.254.169.254:80, which the host forwards there.
    public var metadataPort: Int? = 8775

    public var diskDirectory: String { "\(stateDirectory)/disks" }
    public var consoleDirectory: String { "\(stateDirectory)/consoles" }

    public init(host: String, libvirtURI: String, domainType: String = "auto", imageDirectory: String,
                stateDirectory: String, heartbeatInterval: Duration = .seconds(5),
                metricsInterval: Duration = .seconds(10), bootTimeout: Duration = .seconds(120),
                group: String = "default") {
        self.group = group
        self.host = host
        self.libvirtURI = libvirtURI
        self.domainType = domainType
        self.imageDirectory = imageDirectory
        self.stateDirectory = stateDirectory
        self.heartbeatInterval = heartbeatInterval
        self.metricsInterval = metricsInterval
        self.bootTimeout = bootTimeout
    }

    /// Reads `VEEM_HOST`, `VEEM_LIBVIRT_URI`, `VEEM_DOMAIN_TYPE`, `VEEM_IMAGE_DIR`, `VEEM_STATE_DIR`,
    /// `VEEM_HEARTBEAT_SECONDS`, `VEEM_METRICS_SECONDS`, `VEEM_BOOT_TIMEOUT_SECONDS`, `VEEM_HOST_GROUP`,
    /// `VEEM_UNDERLAY_ADDRESS`, `VEEM_NETWORK_DIR`, `VEEM_NETWORK_MTU`, `VEEM_METADATA_PORT`.
    public init(settings: Settings) throws {
        let host = settings.string("VEEM_HOST", default: ProcessInfo.processInfo.hostName)
            .split(separator: ".").first.map(String.init) ?? "host"
        guard Topology.isHostID(host) else { throw SettingsError(message: "VEEM_HOST must be letters, digits, '.', '_' or '-', got '\(host)'") }
        let domainType = settings.string("VEEM_DOMAIN_TYPE", default: "auto")
        guard ["auto", "kvm", "qemu", "test"].contains(domainType) else {
            throw SettingsError(message: "VEEM_DOMAIN_TYPE must be auto, kvm, qemu or test, got '\(domainType)'")
        }
        self.init(host: host, libvirtURI: settings.string("VEEM_LIBVIRT_URI", default: "qemu:///system"),
                  domainType: domainType,
                  imageDirectory: settings.string("VEEM_IMAGE_DIR", default: "/var/lib/veem/images"),
                  stateDirectory: settings.string("VEEM_STATE_DIR", default: "/var/lib/veem"),
                  heartbeatInterval: try settings.seconds("VEEM_HEARTBEAT_SECONDS", default: 5),
                  metricsInterval: try settings.seconds("VEEM_METRICS_SECONDS", default: 10),
                  bootTimeout: try settings.seconds("VEEM_BOOT_TIMEOUT_SECONDS", default: 120),
                  group: settings.string("VEEM_HOST_GROUP", default: "default"))
        if let underlay = settings["VEEM_UNDERLAY_ADDRESS"], !underlay.isEmpty {
            guard IPv4Address(underlay) != nil else {
                throw SettingsError(message: "VEEM_UNDERLAY_ADDRESS must be an IPv4 address of this host, got '\(underlay)'")
            }
            underlayAddress = underlay
        }
        networkDirectory = settings.string("VEEM_NETWORK_DIR", default: networkDirectory)
        let mtu = settings.string("VEEM_NETWORK_MTU", default: String(networkMTU))
        guard let value = Int(mtu), (576...9000).contains(value) else {
            throw SettingsError(message: "VEEM_NETWORK_MTU must be from 576 to 9000, got '\(mtu)'")
        }
        networkMTU = value
        let port = settings.string("VEEM_METADATA_PORT", default: "8775")
        if port == "off" {
            metadataPort = nil
        } else {
            guard let number = Int(port), (1...65535).contains(number) else {
                throw SettingsError(message: "VEEM_METADATA_PORT must be a port (1-65535) or 'off', got '\(port)'")
            }
            metadataPort = number
        }
    }
}

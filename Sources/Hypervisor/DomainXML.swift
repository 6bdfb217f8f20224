import Foundation
import VMI

/// Builds domain XML for a VEE and reads back veem's record from domain metadata. Every value taken from a request
/// is escaped, so no VEE name or spec can inject XML.
public enum DomainXML {
    /// The namespace of veem's metadata element on each domain it owns.
    public static let namespace = "https://veem.dev/xmlns/vee/1"

    /// The libvirt domain name for a VEE id.
    public static func domainName(_ vee: String) -> String { "veem-\(vee)" }

    /// A NIC on a host bridge: the tap libvirt makes for it is named `tap`, so the host can tell whose it is (and
    /// limits its rate there: libvirt's `<bandwidth>` needs qdiscs and actions not every kernel has).
    public struct Interface: Sendable, Equatable {
        public var bridge: String
        public var mac: String
        public var tap: String
        public var mtu: Int

        public init(bridge: String, mac: String, tap: String, mtu: Int) {
            self.bridge = bridge
            self.mac = mac
            self.tap = tap
            self.mtu = mtu
        }

        var xml: String {
            "<interface type='bridge'><mac address='\(escape(mac))'/><source bridge='\(escape(bridge))'/>"
                + "<target dev='\(escape(tap))'/><model type='virtio'/><mtu size='\(mtu)'/></interface>"
        }
    }

    /// The domain XML for `record` on a host of `domainType`, booting `image`, with `interfaces` on host bridges.
    public static func domain(record: DomainRecord, domainType: String, image: GuestImage, diskPath: String?,
                              consolePath: String, interfaces: [Interface] = []) -> String {
        let spec = record.spec
        var os = "<type arch='x86_64'>hvm</type>"
        if let kernel = image.kernel { os += "<kernel>\(escape(kernel))</kernel>" }
        if let initrd = image.initrd { os += "<initrd>\(escape(initrd))</initrd>" }
        if let cmdline = image.cmdline { os += "<cmdline>\(escape(cmdline))</cmdline>" }
        var devices = ""
        if let diskPath {
            devices += "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                + "<source file='\(escape(diskPath))'/><target dev='vda' bus='virtio'/></disk>"
        }
        devices += interfaces.map(\.xml).joined()
        devices += "<serial type='file'><source path='\(escape(consolePath))' append='on'/><target port='0'/></serial>"
        devices += "<console type='file'><source path='\(escape(consolePath))' append='on'/><target type='serial' port='0'/></console>"
        return """
            <domain type='\(escape(domainType))'>\
            <name>\(escape(domainName(record.vee)))</name>\
            <uuid>\(escape(record.vee))</uuid>\
            <title>\(escape(spec.name))</title>\
            <metadata>\(metadata(record))</metadata>\
            <memory unit='MiB'>\(spec.memoryMiB)</memory>\
            <vcpu>\(spec.cpus)</vcpu>\
            <os>\(os)</os>\
            <features><acpi/></features>\
            <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>\
            <devices>\(devices)</devices>\
            </domain>
            """
    }

    /// veem's metadata element. The spec travels as base64 JSON in an attribute: no nesting to escape or parse.
    /// `prefixed` for domain XML; `virDomainSetMetadata` takes it bare, with the namespace passed beside it.
    public static func metadata(_ record: DomainRecord, prefixed: Bool = true) -> String {
        let spec = (try? coder.encode(record.spec))?.base64EncodedString() ?? ""
        let interfaces = record.interfaces.isEmpty ? ""
            : " interfaces='\((try? coder.encode(record.interfaces))?.base64EncodedString() ?? "")'"
        let name = prefixed ? "veem:vee xmlns:veem='\(namespace)'" : "vee"
        return "<\(name) id='\(escape(record.vee))' host='\(escape(record.host))'"
            + " desired='\(record.desired.rawValue)' generation='\(record.generation)' reboots='\(record.reboots)'"
            + " spec='\(spec)'" + interfaces + "/>"
    }

    private static let coder = JSONEncoder()
    private static let decoder = JSONDecoder()

    /// Reads a record from the element libvirt returns for veem's namespace; nil when it is not veem's.
    public static func record(fromMetadata xml: String) -> DomainRecord? {
        let attributes = attributes(of: xml)
        guard let vee = attributes["id"], let host = attributes["host"],
              let desired = attributes["desired"].flatMap(VEEState.init(rawValue:)),
              let generation = attributes["generation"].flatMap(Int.init),
              let data = attributes["spec"].flatMap({ Data(base64Encoded: $0) }),
              let spec = try? decoder.decode(VEESpec.self, from: data)
        else { return nil }
        // Domains defined before reboots were recorded have none.
        let interfaces = attributes["interfaces"].flatMap { Data(base64Encoded: $0) }
            .flatMap { try? decoder.decode([VEEInterface].self, from: $0) } ?? []
        return DomainRecord(vee: vee, host: host, spec: spec, desired: desired, generation: generation,
                            reboots: attributes["reboots"].flatMap(Int.init) ?? 0, interfaces: interfaces)
    }

    /// Escapes text for XML element content and both kinds of quoted attribute.
    public static func escape(_ text: String) -> String { XMLText.escape(text) }

    /// The attributes of the first element in `xml`, unescaped (libxml2 writes them in double quotes).
    static func attributes(of xml: String) -> [String: String] {
        var result: [String: String] = [:]
        let scanner = Array(xml.unicodeScalars)
        var index = 0
        guard let open = scanner.firstIndex(of: "<") else { return [:] }
        index = open + 1
        while index < scanner.count, scanner[index] != " " && scanner[index] != ">" { index += 1 }
        while index < scanner.count, scanner[index] != ">" && scanner[index] != "/" {
            while index < scanner.count, scanner[index] == " " || scanner[index] == "\n" || scanner[index] == "\t" {
                index += 1
            }
            let nameStart = index
            while index < scanner.count, scanner[index] != "=" && scanner[index] != ">" { index += 1 }
            guard index + 1 < scanner.count, scanner[index] == "=" else { break }
            let name = String(String.UnicodeScalarView(scanner[nameStart..<index]))
            let quote = scanner[index + 1]
            guard quote == "\"" || quote == "'" else { break }
            let valueStart = index + 2
            guard let valueEnd = scanner[valueStart...].firstIndex(of: quote) else { break }
            result[name] = unescape(String(String.UnicodeScalarView(scanner[valueStart..<valueEnd])))
            index = valueEnd + 1
        }
        return result
    }

    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&#10;", with: "\n").replacingOccurrences(of: "&amp;", with: "&")
    }
}

import Foundation
import Hypervisor
import Testing
import VMI

@Suite struct DomainXMLTests {
    let record = DomainRecord(vee: "0b4a9c9e-2f55-4a43-8d1e-3a2d4b5c6d7e", host: "h1",
                              spec: VEESpec(name: "web1", image: "tiny"), desired: .active, generation: 3, reboots: 2)

    @Test func escapingLeavesNoMarkupOrControlCharacters() {
        #expect(DomainXML.escape("</name><devices>&'\"\u{1}") == "&lt;/name&gt;&lt;devices&gt;&amp;&apos;&quot;")
    }

    @Test func valuesFromRequestsCannotInjectElements() {
        var image = GuestImage(name: "tiny", kernel: "/k'/><evil/>", cmdline: "console=ttyS0 </cmdline><x>")
        image.initrd = "/i"
        var hostile = record
        hostile.spec.name = "x</title><devices><evil/></devices><title>"
        let xml = DomainXML.domain(record: hostile, domainType: "qemu", image: image, diskPath: "/d'.qcow2",
                                   consolePath: "/c.log")
        #expect(!xml.contains("<evil/>"))
        #expect(xml.components(separatedBy: "<devices>").count == 2)
    }

    @Test func theRecordSurvivesTheMetadataRoundTrip() {
        let element = DomainXML.metadata(record)
        #expect(DomainXML.record(fromMetadata: element) == record)
        // libvirt hands the element back re-serialised by libxml2: double quotes and its own namespace prefix.
        let reserialised = element.replacingOccurrences(of: "'", with: "\"")
        #expect(DomainXML.record(fromMetadata: reserialised) == record)
        #expect(DomainXML.record(fromMetadata: "<other a=\"b\"/>") == nil)
        // A domain recorded before reboots were: none carried out.
        let older = element.replacingOccurrences(of: " reboots='\(record.reboots)'", with: "")
        #expect(older != element && DomainXML.record(fromMetadata: older)?.reboots == 0)
    }

    @Test func interfacesAreOnTheirBridgesAndInTheRecord() {
        var networked = record
        networked.interfaces = [VEEInterface(network: "RED", vni: 1000, mac: "52:54:00:0a:0b:0c", address: "10.10.0.10",
                                             subnet: "10.10.0.0/24", bytesPerSecond: 1_024_000)]
        let xml = DomainXML.domain(record: networked, domainType: "qemu", image: GuestImage(name: "tiny"),
                                   diskPath: nil, consolePath: "/c.log",
                                   interfaces: [DomainXML.Interface(bridge: "veemb1000", mac: "52:54:00:0a:0b:0c",
                                                                    tap: "veemt0a0b0c", mtu: 1450)])
        #expect(xml.contains("<interface type='bridge'><mac address='52:54:00:0a:0b:0c'/><source bridge='veemb1000'/>"
                             + "<target dev='veemt0a0b0c'/><model type='virtio'/><mtu size='1450'/></interface>"))
        #expect(DomainXML.record(fromMetadata: DomainXML.metadata(networked))?.interfaces == networked.interfaces)
        #expect(DomainXML.record(fromMetadata: DomainXML.metadata(record))?.interfaces == [], "none recorded: none")
    }
}

import Foundation

/// libvirt test-driver hosts of a chosen size: each `test:///path/node.xml` URI is a private, empty hypervisor.
public enum TestNode {
    /// Writes a node description and returns its URI.
    public static func uri(cpus: Int, memoryMiB: Int) throws -> String {
        let path = NSTemporaryDirectory() + "veem-node-\(UUID().uuidString).xml"
        try """
        <node><cpu><mhz>2000</mhz><model>x86_64</model><nodes>1</nodes><sockets>1</sockets><cores>\(cpus)</cores>\
        <threads>1</threads></cpu><memory>\(memoryMiB * 1024)</memory></node>
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return "test://\(path)"
    }
}

import Foundation
import VMI

/// EC2 Query responses: XML in the 2016-11-15 namespace with a request id; errors in the `<Response><Errors>` form.
public enum EC2XML {
    public static let namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

    /// An element tree to render.
    public indirect enum Node: Sendable, Equatable {
        case text(String, String)
        case element(String, [Node])
        /// `<name><item>…</item>…</name>`, the shape of every EC2 list.
        case items(String, [[Node]])
    }

    /// `<ActionResponse xmlns=…><requestId>…</requestId>…</ActionResponse>`.
    public static func response(action: String, requestId: String, _ body: [Node]) -> String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<\(action)Response xmlns=\"\(namespace)\">"
            + "<requestId>\(escape(requestId))</requestId>"
        for node in body { render(node, into: &out) }
        out += "</\(action)Response>"
        return out
    }

    public static func error(_ error: EC2Error, requestId: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>\(escape(error.code))</Code>"
            + "<Message>\(escape(error.message))</Message></Error></Errors>"
            + "<RequestID>\(escape(requestId))</RequestID></Response>"
    }

    public static func render(_ node: Node) -> String {
        var out = ""
        render(node, into: &out)
        return out
    }

    /// Appends in place: a DescribeInstances over a thousand instances is tens of thousands of nodes.
    static func render(_ node: Node, into out: inout String) {
        switch node {
        case .text(let name, let value):
            out += "<"; out += name; out += ">"; out += escape(value); out += "</"; out += name; out += ">"
        case .element(let name, let children):
            out += "<"; out += name; out += ">"
            for child in children { render(child, into: &out) }
            out += "</"; out += name; out += ">"
        case .items(let name, let items):
            out += "<"; out += name; out += ">"
            for item in items {
                out += "<item>"
                for child in item { render(child, into: &out) }
                out += "</item>"
            }
            out += "</"; out += name; out += ">"
        }
    }

    public static func escape(_ text: String) -> String { XMLText.escape(text) }
}

extension EC2XML {
    /// EC2 keeps the latest 64 KiB of a console.
    public static let consoleOutputLimit = 64 << 10

    /// GetConsoleOutput's answer: the last `consoleOutputLimit` bytes of `console`, base64; no `output` when empty.
    public static func consoleOutput(instanceId: String, requestId: String, console: Data, at date: Date) -> String {
        var body: [Node] = [.text("instanceId", instanceId), .text("timestamp", WireDate.format(date))]
        if !console.isEmpty { body.append(.text("output", console.suffix(consoleOutputLimit).base64EncodedString())) }
        return response(action: "GetConsoleOutput", requestId: requestId, body)
    }
}

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
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<\(action)Response xmlns=\"\(namespace)\">"
            + "<requestId>\(escape(requestId))</requestId>" + body.map(render).joined() + "</\(action)Response>"
    }

    public static func error(_ error: EC2Error, requestId: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>\(escape(error.code))</Code>"
            + "<Message>\(escape(error.message))</Message></Error></Errors>"
            + "<RequestID>\(escape(requestId))</RequestID></Response>"
    }

    public static func render(_ node: Node) -> String {
        switch node {
        case .text(let name, let value): return "<\(name)>\(escape(value))</\(name)>"
        case .element(let name, let children): return "<\(name)>" + children.map(render).joined() + "</\(name)>"
        case .items(let name, let items):
            return "<\(name)>" + items.map { "<item>" + $0.map(render).joined() + "</item>" }.joined() + "</\(name)>"
        }
    }

    public static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                if scalar.value < 0x20 && scalar != "\t" && scalar != "\n" && scalar != "\r" { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

import Foundation
import VMI

/// The metadata service's answers, as EC2's instance metadata service gives them, for one guest about itself.
/// Pure: the server finds the guest and carries out what comes back.
public struct MetadataResponder: Sendable {
    /// What a request comes to.
    public enum Outcome: Sendable, Equatable {
        case respond(MetadataResponse)
        /// A probe's KPIs for the asking VEE, to relay (PutMonitoringInformation); the server answers.
        case kpis([String: Double])
    }

    /// veem's own path where probes inside a guest post their KPIs.
    public static let kpiPath = "/veem/v1/kpis"
    public static let maxKPIs = 64

    public let tokens: MetadataTokens

    public init(tokens: MetadataTokens) { self.tokens = tokens }

    /// `guest` nil: no VEE of this host has the request's source address on the network it came in on.
    public func respond(to request: MetadataRequest, from guest: MetadataGuest?, vni: Int, address: String,
                        now: Date) -> Outcome {
        guard let guest, let interface = guest.interface(vni: vni, address: address) else {
            return .respond(.text("Forbidden: no VEE of this host has \(address) on this network\n", status: 403))
        }
        // IMDSv2: a session token, for this VEE only. A proxy in the guest (X-Forwarded-For) gets none, as on EC2.
        if request.method == "PUT" {
            guard request.path == "/latest/api/token" else { return .respond(.text("Method Not Allowed\n", status: 405)) }
            if request.headers["x-forwarded-for"] != nil { return .respond(.text("Forbidden\n", status: 403)) }
            guard let text = request.headers["x-aws-ec2-metadata-token-ttl-seconds"], let ttl = Int(text),
                  MetadataTokens.ttlRange.contains(ttl) else {
                return .respond(.text("Bad Request: X-aws-ec2-metadata-token-ttl-seconds must be 1 to 21600\n",
                                      status: 400))
            }
            var response = MetadataResponse.text(tokens.issue(for: guest.vee, ttlSeconds: ttl, now: now))
            response.headers["X-Aws-Ec2-Metadata-Token-Ttl-Seconds"] = String(ttl)
            return .respond(response)
        }
        // IMDSv1 (no token) is allowed; a token shown must be this VEE's and alive.
        if let token = request.headers["x-aws-ec2-metadata-token"],
           !tokens.isValid(token, for: guest.vee, now: now) {
            return .respond(.text("Unauthorized\n", status: 401))
        }
        if request.path == Self.kpiPath {
            guard request.method == "POST" else { return .respond(.text("Method Not Allowed\n", status: 405)) }
            switch Self.parseKPIs(request.body) {
            case .success(let kpis): return .kpis(kpis)
            case .failure(let problem): return .respond(.text("Bad Request: \(problem.message)\n", status: 400))
            }
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            return .respond(.text("Method Not Allowed\n", status: 405))
        }
        return .respond(Self.read(request.path, guest: guest, interface: interface))
    }

    // MARK: The tree

    static func read(_ path: String, guest: MetadataGuest, interface: VEEInterface) -> MetadataResponse {
        if path == "/" || path.isEmpty { return .text("latest\n") }
        guard path == "/latest" || path.hasPrefix("/latest/") else { return .text("Not Found\n", status: 404) }
        var key = String(path.dropFirst("/latest".count))
        while key.hasPrefix("/") { key.removeFirst() }
        while key.hasSuffix("/") { key.removeLast() }
        let leaves = self.leaves(guest: guest, interface: interface)
        if let value = leaves[key] { return MetadataResponse(status: 200, headers: ["Content-Type": contentType(key)],
                                                            body: value) }
        // The public keys' index names each key, as EC2's does: `0=my-key`.
        if key == "meta-data/public-keys", let keys = guest.context?.publicKeys, !keys.isEmpty {
            let names = keys.indices.map { "\($0)=\($0 == 0 ? guest.context?.keyName ?? "key-0" : "key-\($0)")" }
            return .text(names.joined(separator: "\n"))
        }
        let prefix = key.isEmpty ? "" : key + "/"
        var children = Set<String>()
        for leaf in leaves.keys where leaf.hasPrefix(prefix) {
            let rest = leaf.dropFirst(prefix.count)
            if let slash = rest.firstIndex(of: "/") { children.insert(rest[..<slash] + "/") } else { children.insert(String(rest)) }
        }
        guard !children.isEmpty else { return .text("Not Found\n", status: 404) }
        return .text(children.sorted().joined(separator: "\n"))
    }

    static func contentType(_ key: String) -> String {
        key == "dynamic/instance-identity/document" ? "application/json"
            : key == "user-data" ? "application/octet-stream" : "text/plain"
    }

    /// Every readable value by its path under `/latest/`.
    static func leaves(guest: MetadataGuest, interface: VEEInterface) -> [String: Data] {
        var values: [String: String] = [
            "meta-data/instance-id": guest.name,
            "meta-data/hostname": guest.name,
            "meta-data/local-hostname": guest.name,
            "meta-data/local-ipv4": interface.address,
            "meta-data/mac": interface.mac,
            "meta-data/placement/availability-zone": guest.zone,
            "meta-data/veem/vee-id": guest.vee,
            "meta-data/veem/network": interface.network,
        ]
        for (index, other) in guest.interfaces.enumerated() {
            let base = "meta-data/network/interfaces/macs/\(other.mac)/"
            values[base + "device-number"] = String(index)
            values[base + "local-ipv4s"] = other.address
            values[base + "mac"] = other.mac
            values[base + "subnet-ipv4-cidr-block"] = other.subnet
            values[base + "veem-network"] = other.network
        }
        for (index, key) in (guest.context?.publicKeys ?? []).enumerated() {
            values["meta-data/public-keys/\(index)/openssh-key"] = key + "\n"
        }
        var document: [String: String] = ["instanceId": guest.name, "availabilityZone": guest.zone,
                                          "privateIp": interface.address, "version": "2017-09-30"]
        if let image = guest.context?.imageId {
            values["meta-data/ami-id"] = image
            document["imageId"] = image
        }
        if let type = guest.context?.instanceType {
            values["meta-data/instance-type"] = type
            document["instanceType"] = type
        }
        if let json = try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]) {
            values["dynamic/instance-identity/document"] = String(decoding: json, as: UTF8.self)
        }
        var leaves = values.mapValues { Data($0.utf8) }
        if let userData = guest.context?.userDataBytes { leaves["user-data"] = userData }
        return leaves
    }

    // MARK: Probes

    /// A JSON object of numbers (`{"RequestPerSecond": 750}`), or `name value` / `name=value` lines (what a
    /// shell probe writes most easily).
    static func parseKPIs(_ body: Data) -> Result<[String: Double], VMIError> {
        func bad(_ message: String) -> Result<[String: Double], VMIError> {
            .failure(VMIError(code: .invalidParameter, field: "kpis", message: message))
        }
        var kpis: [String: Double] = [:]
        let text = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("{") {
            guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                return bad("the body is not a JSON object")
            }
            for (name, value) in object {
                guard let number = value as? NSNumber, !(value is Bool) else {
                    return bad("KPI '\(name)' must be a number")
                }
                kpis[name] = number.doubleValue
            }
        } else {
            for line in text.split(whereSeparator: \.isNewline) where !line.allSatisfy(\.isWhitespace) {
                let fields = line.split(whereSeparator: { $0 == "=" || $0 == " " || $0 == "\t" })
                guard fields.count == 2, let value = Double(fields[1]) else {
                    return bad("each line must be 'name value' or 'name=value', got '\(line.prefix(80))'")
                }
                kpis[String(fields[0])] = value
            }
        }
        guard !kpis.isEmpty else { return bad("no KPI given") }
        guard kpis.count <= maxKPIs else { return bad("at most \(maxKPIs) KPIs at once, got \(kpis.count)") }
        for (name, value) in kpis {
            guard VEESpec.isValidName(name) else {
                return bad("KPI name '\(name.prefix(80))' must be letters, digits, '.', '_' or '-'")
            }
            guard value.isFinite else { return bad("KPI '\(name)' must be a finite number") }
        }
        return .success(kpis)
    }
}

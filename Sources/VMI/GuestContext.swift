import Foundation

/// What a VEE's guest is told about itself at boot through its host's instance metadata service, beyond its
/// hardware: user data and SSH keys (OpenNebula's CONTEXT, EC2's UserData and KeyName).
public struct GuestContext: Codable, Sendable, Equatable {
    /// The user data, base64-encoded (as EC2's UserData). A guest whose user data starts with `#!` runs it.
    public var userData: String?
    /// The key pair's name (EC2's KeyName); the metadata service lists key 0 under it.
    public var keyName: String?
    /// OpenSSH public key lines (`ssh-ed25519 AAAA… comment`) the guest authorises.
    public var publicKeys: [String]?
    /// The image and instance type an EC2 instance was launched with (meta-data `ami-id`, `instance-type`).
    public var imageId: String?
    public var instanceType: String?

    public init(userData: String? = nil, keyName: String? = nil, publicKeys: [String]? = nil,
                imageId: String? = nil, instanceType: String? = nil) {
        self.userData = userData
        self.keyName = keyName
        self.publicKeys = publicKeys
        self.imageId = imageId
        self.instanceType = instanceType
    }

    /// EC2's limit on user data: 16 KiB before encoding.
    public static let maxUserDataBytes = 16 << 10
    public static let maxPublicKeys = 10
    public static let maxPublicKeyBytes = 16 << 10

    /// The user data's bytes; nil when there is none (or it is not base64, which `problems` refuses).
    public var userDataBytes: Data? { userData.flatMap { Data(base64Encoded: $0) } }

    /// Every problem with this context, each naming its field under `path` (e.g. `vee.context`).
    public func problems(at path: String) -> [VMIError] {
        var found: [VMIError] = []
        func bad(_ field: String, _ message: String) {
            found.append(VMIError(code: .invalidParameter, field: "\(path).\(field)", message: message))
        }
        if let userData {
            if let bytes = Data(base64Encoded: userData) {
                if bytes.count > Self.maxUserDataBytes {
                    bad("userData", "must be at most \(Self.maxUserDataBytes) bytes, got \(bytes.count)")
                }
            } else {
                bad("userData", "must be base64")
            }
        }
        if let keyName, keyName.isEmpty || keyName.utf8.count > 255
            || !keyName.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f }) {
            bad("keyName", "must be 1-255 printable ASCII characters")
        }
        for (field, value) in [("imageId", imageId), ("instanceType", instanceType)] {
            if let value, value.isEmpty || value.utf8.count > 64 || !value.allSatisfy({ $0.isASCII && !$0.isWhitespace }) {
                bad(field, "must be 1-64 ASCII characters without spaces")
            }
        }
        let keys = publicKeys ?? []
        if keys.count > Self.maxPublicKeys {
            bad("publicKeys", "must list at most \(Self.maxPublicKeys) keys, got \(keys.count)")
        }
        for (index, key) in keys.enumerated() where !Self.isPublicKeyLine(key) {
            bad("publicKeys[\(index)]", "must be one OpenSSH public key line ('ssh-ed25519 AAAA… comment'), "
                + "at most \(Self.maxPublicKeyBytes) bytes")
        }
        return found
    }

    /// One line, a key type and base64 blob: what `authorized_keys` takes.
    public static func isPublicKeyLine(_ line: String) -> Bool {
        guard line.utf8.count <= maxPublicKeyBytes, !line.contains("\n"), !line.contains("\r") else { return false }
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 2, fields[0].hasPrefix("ssh-") || fields[0].hasPrefix("ecdsa-")
            || fields[0].hasPrefix("sk-") else { return false }
        return Data(base64Encoded: String(fields[1])) != nil
    }
}

/// KPIs that probes inside guests posted to their host's metadata service, relayed by the agent in batches: the
/// coordinator takes each as a PutMonitoringInformation for that VEE, provided the VEE is on the reporting host.
public struct GuestKPIs: VMIBody, Equatable {
    public static let messageType = MessageType.guestKPIs
    public var host: String
    public var samples: [Sample]

    public struct Sample: Codable, Sendable, Equatable {
        public var vee: String
        public var kpis: [String: Double]
        public var measuredAt: Date
        public init(vee: String, kpis: [String: Double], measuredAt: Date) {
            self.vee = vee
            self.kpis = kpis
            self.measuredAt = measuredAt
        }
    }

    public init(host: String, samples: [Sample]) {
        self.host = host
        self.samples = samples
    }
}

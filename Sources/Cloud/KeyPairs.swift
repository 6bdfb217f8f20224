import _CryptoExtras
import Crypto
import EC2
import Foundation
import VMI

/// A key pair: only the public half is kept (the private key of a created pair is shown once).
struct KeyPairRecord: StoredResource {
    static let kind = "key-pair"
    var fingerprint: String
    /// OpenSSH form: `ssh-rsa AAAA…`.
    var publicKey: String
    var keyType: String
}

extension CloudCall {
    func keyName() throws -> String {
        let name = try form.required("KeyName")
        guard name.count <= 255, name.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 }) else {
            throw EC2Error.invalidParameterValue("KeyName", "must be 1-255 ASCII characters")
        }
        return name
    }

    /// An RSA 2048 key: the private key (PKCS#1 PEM) goes back once; the fingerprint is EC2's for keys it creates,
    /// the SHA-1 of the PKCS#8 DER private key.
    func createKeyPair() throws -> [EC2XML.Node] {
        let name = try keyName()
        let type = form["KeyType"] ?? "rsa"
        guard type == "rsa" else {
            throw EC2Error.invalidParameterValue("KeyType", "only rsa keys are created here ('\(type)' asked); "
                + "ImportKeyPair takes ed25519 keys")
        }
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let pkcs8 = Data(base64Encoded: key.pkcs8PEMRepresentation.split(separator: "\n")
            .filter { !$0.hasPrefix("-----") }.joined()) ?? Data()
        let fingerprint = Self.colonHex(Insecure.SHA1.hash(data: pkcs8))
        let primitives = try key.publicKey.getKeyPrimitives()
        let blob = Self.sshString(Array("ssh-rsa".utf8)) + Self.sshString(Self.mpint(primitives.publicExponent))
            + Self.sshString(Self.mpint(primitives.modulus))
        let id = ResourceID.make("key")
        try insert(KeyPairRecord(fingerprint: fingerprint, publicKey: "ssh-rsa " + Data(blob).base64EncodedString(),
                                 keyType: "rsa"),
                   id: id, name: name, duplicate: duplicateKey(name))
        try applyTagSpecifications("key-pair", to: [id])
        return [.text("keyName", name), .text("keyFingerprint", fingerprint), .text("keyMaterial", key.pemRepresentation),
                .text("keyPairId", id), try tagSet(id)]
    }

    /// PublicKeyMaterial is the base64 of an OpenSSH public key line. The fingerprint is the MD5 of the key blob
    /// (what `ssh-keygen -l -E md5` prints) for RSA, and the SHA-256 (base64) for ed25519, as EC2 shows them.
    func importKeyPair() throws -> [EC2XML.Node] {
        let name = try keyName()
        let material = try form.required("PublicKeyMaterial")
        guard let decoded = Data(base64Encoded: material), let line = String(data: decoded, encoding: .utf8) else {
            throw EC2Error("InvalidKeyPair.Format", "PublicKeyMaterial must be the base64 of an OpenSSH public key")
        }
        let fields = line.split(whereSeparator: \.isWhitespace).map(String.init)
        let types = ["ssh-rsa": "rsa", "ssh-ed25519": "ed25519"]
        guard fields.count >= 2, let type = types[fields[0]], let blob = Data(base64Encoded: fields[1]),
              Self.leadingString(Array(blob)) == fields[0]
        else {
            throw EC2Error("InvalidKeyPair.Format", "Key is not in valid OpenSSH public key format (ssh-rsa or "
                + "ssh-ed25519)")
        }
        let fingerprint = type == "rsa" ? Self.colonHex(Insecure.MD5.hash(data: blob))
            : Data(SHA256.hash(data: blob)).base64EncodedString().replacingOccurrences(of: "=", with: "")
        let id = ResourceID.make("key")
        try insert(KeyPairRecord(fingerprint: fingerprint, publicKey: "\(fields[0]) \(fields[1])", keyType: type),
                   id: id, name: name, duplicate: duplicateKey(name))
        try applyTagSpecifications("key-pair", to: [id])
        return [.text("keyName", name), .text("keyFingerprint", fingerprint), .text("keyPairId", id), try tagSet(id)]
    }

    func duplicateKey(_ name: String) -> EC2Error {
        EC2Error("InvalidKeyPair.Duplicate", "The keypair '\(name)' already exists.")
    }

    /// Deleting a key pair that does not exist succeeds, as on EC2.
    func deleteKeyPair() throws -> [EC2XML.Node] {
        if let id = form["KeyPairId"] {
            if let record = try tx.resource(id), record.kind == KeyPairRecord.kind, record.account == account {
                try tx.deleteResource(id)
            }
        } else if let key = try named(try keyName(), KeyPairRecord.self) {
            try tx.deleteResource(key.id)
        }
        return [.text("return", "true")]
    }

    func describeKeyPairs() throws -> [EC2XML.Node] {
        var keys = try all(KeyPairRecord.self)
        let names = form.list("KeyName"), ids = form.list("KeyPairId")
        for name in names where !keys.contains(where: { $0.record.name == name }) {
            throw EC2Error("InvalidKeyPair.NotFound", "The key pair '\(name)' does not exist")
        }
        for id in ids where !keys.contains(where: { $0.id == id }) {
            throw EC2Error("InvalidKeyPair.NotFound", "The key pair '\(id)' does not exist")
        }
        if !names.isEmpty || !ids.isEmpty {
            keys = keys.filter { names.contains($0.record.name ?? "") || ids.contains($0.id) }
        }
        let shown = try filtered(keys, id: \.id, [
            "key-name": { key in [key.record.name ?? ""] },
            "key-pair-id": { key in [key.id] },
            "fingerprint": { key in [key.body.fingerprint] },
            "key-type": { key in [key.body.keyType] },
        ])
        return [.items("keySet", try shown.map { key in
            [.text("keyPairId", key.id), .text("keyName", key.record.name ?? ""),
             .text("keyFingerprint", key.body.fingerprint), .text("keyType", key.body.keyType),
             .text("publicKey", key.body.publicKey), .text("createTime", WireDate.format(key.record.createdAt)),
             try tagSet(key.id)]
        })]
    }

    static let keyPairActions: [String: Action] = [
        "CreateKeyPair": Action(readOnly: false) { try $0.createKeyPair() },
        "ImportKeyPair": Action(readOnly: false) { try $0.importKeyPair() },
        "DeleteKeyPair": Action(readOnly: false) { try $0.deleteKeyPair() },
        "DescribeKeyPairs": Action(readOnly: true) { try $0.describeKeyPairs() },
    ]

    // MARK: OpenSSH wire helpers

    static func colonHex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined(separator: ":")
    }

    static func sshString(_ bytes: [UInt8]) -> [UInt8] {
        let count = UInt32(bytes.count)
        return [UInt8(count >> 24), UInt8((count >> 16) & 0xff), UInt8((count >> 8) & 0xff), UInt8(count & 0xff)]
            + bytes
    }

    /// A positive big-endian integer as an SSH mpint: no leading zeros, one added when the top bit is set.
    static func mpint(_ data: Data) -> [UInt8] {
        var bytes = Array(data.drop { $0 == 0 })
        if let first = bytes.first, first & 0x80 != 0 { bytes.insert(0, at: 0) }
        return bytes
    }

    /// The first SSH string in a key blob (its type).
    static func leadingString(_ blob: [UInt8]) -> String? {
        guard blob.count >= 4 else { return nil }
        let count = Int(blob[0]) << 24 | Int(blob[1]) << 16 | Int(blob[2]) << 8 | Int(blob[3])
        guard count <= blob.count - 4 else { return nil }
        return String(decoding: blob[4..<(4 + count)], as: UTF8.self)
    }
}

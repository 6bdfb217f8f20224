import Foundation

/// A certificate authority of a test's own, made with the openssl CLI: its CA certificate, and a server certificate
/// for `localhost` and 127.0.0.1 that it signed (for a broker's TLS listener). Files are world-readable so that a
/// broker running as the rabbitmq user can read them.
public struct TestCA: Sendable {
    public let directory: String
    public var caFile: String { directory + "/ca.pem" }
    public var serverCertFile: String { directory + "/server.pem" }
    public var serverKeyFile: String { directory + "/server.key" }

    /// Makes a CA named `name` and its server certificate in `directory` (created).
    public static func make(in directory: String, name: String = "veem test CA") async throws -> TestCA {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ca = TestCA(directory: directory)
        try "subjectAltName = DNS:localhost, IP:127.0.0.1\n"
            .write(toFile: directory + "/server.ext", atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=\(name)",
             "-keyout", directory + "/ca.key", "-out", ca.caFile],
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", ca.serverKeyFile, "-out", directory + "/server.csr"],
            ["x509", "-req", "-in", directory + "/server.csr", "-CA", ca.caFile, "-CAkey", directory + "/ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", directory + "/server.ext", "-out", ca.serverCertFile],
        ]
        for step in steps {
            let result = try await ExternalCommand.run("/usr/bin/openssl", step)
            guard result.status == 0 else { throw TestSupportError("openssl \(step[0]): \(result.output)") }
        }
        for file in [ca.caFile, ca.serverCertFile, ca.serverKeyFile] {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        }
        return ca
    }
}

import EC2
import Foundation
import Testing
import VMI

@Suite struct SigningTests {
    static func request() -> SignedRequest {
        SignedRequest(method: "POST", path: "/",
                      headers: [("Host", "127.0.0.1:8773"),
                                ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
                      body: Array("Action=DescribeInstances&Version=2016-11-15".utf8))
    }

    /// What a client signs, the gateway's proof and the secret holder's check agree on; another secret, another
    /// body or another time does not pass.
    @Test func aSignedCallIsProvenWithoutTheSecretAndCheckedWithIt() throws {
        var request = Self.request()
        let now = Date()
        request.headers += SigV4.signingHeaders(for: request, accessKey: "AKIDEXAMPLE", secret: "s3cr3t", region: "site1",
                                                at: now)
        let proof = try SigV4.proof(request, service: "ec2", now: now, skew: 300)
        #expect(proof.accessKey == "AKIDEXAMPLE" && proof.region == "site1")
        try proof.check(secret: "s3cr3t")
        #expect(throws: EC2Error.self) { try proof.check(secret: "other") }

        var tampered = request
        tampered.body = Array("Action=TerminateInstances&InstanceId.1=i-0123456789abcdef0".utf8)
        #expect(throws: EC2Error.self) { try SigV4.proof(tampered, service: "ec2", now: now, skew: 300).check(secret: "s3cr3t") }

        do {
            _ = try SigV4.proof(request, service: "ec2", now: now.addingTimeInterval(600), skew: 300)
            Issue.record("a request 10 minutes old passed a 5-minute window")
        } catch {
            #expect(error.code == "RequestExpired")
        }
        _ = try SigV4.proof(request, service: "ec2", now: now.addingTimeInterval(600), skew: nil)
    }
}

import EC2
import Foundation
import Testing

/// Against vectors from AWS's published Signature Version 4 test suite (2015-08-30, region us-east-1, service
/// "service", key AKIDEXAMPLE): the expected signatures are AWS's.
@Suite struct SigV4Tests {
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let signedAt = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z

    struct Vector: Sendable, CustomStringConvertible {
        var name: String
        var method = "GET"
        var query = ""
        var extraHeaders: [(name: String, value: String)] = []
        var body = ""
        var signedHeaders: String
        var signature: String
        var description: String { name }
    }

    static let vectors = [
        Vector(name: "get-vanilla", signedHeaders: "host;x-amz-date",
               signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        Vector(name: "get-vanilla-query-order-key-case", query: "Param2=value2&Param1=value1",
               signedHeaders: "host;x-amz-date",
               signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        Vector(name: "get-header-value-trim", extraHeaders: [("My-Header1", " value1 "), ("My-Header2", " \"a   b   c\" ")],
               signedHeaders: "host;my-header1;my-header2;x-amz-date",
               signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
        Vector(name: "post-x-www-form-urlencoded", method: "POST",
               extraHeaders: [("Content-Type", "application/x-www-form-urlencoded")], body: "Param1=value1",
               signedHeaders: "content-type;host;x-amz-date",
               signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
    ]

    static func request(_ vector: Vector, signature: String? = nil, date: String = "20150830T123600Z",
                        body: String? = nil) -> SignedRequest {
        SignedRequest(
            method: vector.method, path: "/", query: vector.query,
            headers: [("Host", "example.amazonaws.com"), ("X-Amz-Date", date)] + vector.extraHeaders + [
                ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                    + "SignedHeaders=\(vector.signedHeaders), Signature=\(signature ?? vector.signature)"),
            ],
            body: Array((body ?? vector.body).utf8))
    }

    func verify(_ request: SignedRequest, now: Date = SigV4Tests.signedAt) throws -> SigV4.Authorization {
        try SigV4.verify(request, service: "service", now: now, skew: 300) { $0 == "AKIDEXAMPLE" ? Self.secret : nil }
    }

    @Test(arguments: vectors)
    func awsTestSuiteVectorsVerify(vector: Vector) throws {
        let authorization = try verify(Self.request(vector))
        #expect(authorization.accessKey == "AKIDEXAMPLE" && authorization.region == "us-east-1")
    }

    @Test(arguments: vectors)
    func anyTamperingIsRefused(vector: Vector) {
        var flipped = vector.signature
        flipped.replaceSubrange(flipped.startIndex...flipped.startIndex, with: flipped.first == "0" ? "1" : "0")
        #expect(code { try verify(Self.request(vector, signature: flipped)) } == "SignatureDoesNotMatch")
        #expect(code { try verify(Self.request(vector, body: vector.body + "x")) } == "SignatureDoesNotMatch")
    }

    @Test func wrongSecretsUnknownKeysSkewAndMalformedHeadersAreRefused() {
        let vector = Self.vectors[0]
        #expect(code {
            try SigV4.verify(Self.request(vector), service: "service", now: Self.signedAt, skew: 300) { _ in "wrong" }
        } == "SignatureDoesNotMatch")
        #expect(code {
            try SigV4.verify(Self.request(vector), service: "service", now: Self.signedAt, skew: 300) { _ in nil }
        } == "AuthFailure")
        #expect(code { try verify(Self.request(vector), now: Self.signedAt.addingTimeInterval(301)) } == "RequestExpired")
        // The window can be switched off for test rigs.
        #expect((try? SigV4.verify(Self.request(vector), service: "service", now: Date(), skew: nil) { _ in Self.secret })
                != nil)
        #expect(code {
            try SigV4.verify(Self.request(vector), service: "ec2", now: Self.signedAt, skew: 300) { _ in Self.secret }
        } == "SignatureDoesNotMatch")
        var noAuthorization = Self.request(vector)
        noAuthorization.headers.removeAll { $0.name == "Authorization" }
        #expect(code { try verify(noAuthorization) } == "AuthFailure")
        var garbled = Self.request(vector)
        garbled.headers[garbled.headers.count - 1].value = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE"
        #expect(code { try verify(garbled) } == "IncompleteSignature")
        #expect(code { try verify(Self.request(vector, date: "yesterday")) } == "IncompleteSignature")
    }

    /// The EC2 error code `body` fails with; nil when it succeeds.
    func code(_ body: () throws -> some Any) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? EC2Error)?.code ?? "\(error)"
        }
    }
}

import Foundation
import VMI

extension SigV4 {
    /// The headers a client adds to sign `request` (tools and benchmarks; servers use `proof`/`verify`): `X-Amz-Date`
    /// and `Authorization`, over the request's headers as given (which must include `host`).
    public static func signingHeaders(for request: SignedRequest, accessKey: String, secret: String, region: String,
                                      service: String = "ec2", at date: Date = Date()) -> [(name: String, value: String)] {
        // `2015-08-30T12:36:00.000Z` → `20150830T123600Z`.
        let amzDate = WireDate.format(date).prefix(19).filter { $0 != "-" && $0 != ":" } + "Z"
        var dated = request
        dated.headers.append(("X-Amz-Date", amzDate))
        let signed = Set(dated.headers.map { $0.name.lowercased() }).sorted()
        let authorization = Authorization(accessKey: accessKey, date: String(amzDate.prefix(8)), region: region,
                                          service: service, signedHeaders: signed, signature: "")
        let signature = self.signature(dated, authorization: authorization, amzDate: amzDate, secret: secret)
        let scope = "\(authorization.date)/\(region)/\(service)/aws4_request"
        return [("X-Amz-Date", amzDate),
                ("Authorization", "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders="
                    + signed.joined(separator: ";") + ", Signature=\(signature)")]
    }
}

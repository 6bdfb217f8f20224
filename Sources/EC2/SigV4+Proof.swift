import VMI

extension EC2Signature {
    init(authorization: SigV4.Authorization, stringToSign: String) {
        self.init(accessKey: authorization.accessKey, date: authorization.date, region: authorization.region,
                  service: authorization.service, signedHeaders: authorization.signedHeaders,
                  signature: authorization.signature, stringToSign: stringToSign)
    }

    public var authorization: SigV4.Authorization {
        SigV4.Authorization(accessKey: accessKey, date: date, region: region, service: service,
                            signedHeaders: signedHeaders, signature: signature)
    }

    /// Throws SignatureDoesNotMatch (403) unless the signature is the secret's, compared in constant time.
    public func check(secret: String) throws(EC2Error) {
        let expected = SigV4.sign(stringToSign, authorization: authorization, secret: secret)
        guard SigV4.constantTimeEqual(Array(expected.utf8), Array(signature.utf8)) else {
            throw EC2Error("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                + "signature you provided. Check your AWS Secret Access Key and signing method.", status: 403)
        }
    }

    /// The answer for an access key nobody holds.
    public static let unknownKey = EC2Error("AuthFailure", "AWS was not able to validate the provided access "
        + "credentials", status: 401)
}

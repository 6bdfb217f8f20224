@testable import Coordinator
import Daemon
import Testing
import VMI

@Suite struct RequestersTests {
    func requesters(_ values: [String: String]) throws -> Requesters? {
        try Requesters.from(Settings(file: nil, environment: values))
    }

    @Test func withoutSettingsAnyoneMaySendAnything() throws {
        #expect(try requesters([:]) == nil)
    }

    @Test func operatorsMaySendAnythingGatewaysEC2CallsOnlyAndNobodyElseAnything() throws {
        let site = try #require(try requesters(["VEEM_OPERATOR_USERS": "veem-operator, alice",
                                                "VEEM_GATEWAY_USERS": "veem-ec2"]))
        #expect(site.operators == ["veem-operator", "alice"])
        for type in [MessageType.submitVEEs, .veeUpdate, .createAccount, .ec2Request] {
            #expect(site.refusal(of: type, from: "alice") == nil)
        }
        #expect(site.refusal(of: .ec2Request, from: "veem-ec2") == nil)
        let gateway = try #require(site.refusal(of: .submitService, from: "veem-ec2"))
        #expect(gateway.code == .accessDenied && gateway.message.contains("EC2 calls only, not SubmitService"))
        #expect(site.refusal(of: .ec2Request, from: "veem-agent-host1")?.code == .accessDenied)
        #expect(site.refusal(of: .ec2Request, from: nil)?.message.contains("no user-id") == true)
    }

    @Test(arguments: ["", "a,,b", " , "])
    func aBadUserListIsRefusedByItsKey(_ value: String) throws {
        #expect {
            try requesters(["VEEM_OPERATOR_USERS": value])
        } throws: { error in
            "\(error)".contains("VEEM_OPERATOR_USERS must be broker user names separated by commas")
        }
    }
}

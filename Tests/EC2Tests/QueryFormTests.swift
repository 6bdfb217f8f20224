import EC2
import Testing

@Suite struct QueryFormTests {
    @Test func decodesWhatAwscliSends() throws {
        let form = QueryForm("Action=RunInstances&Version=2016-11-15&ImageId=ami-0abc&MinCount=1&MaxCount=3"
            + "&InstanceType=t2.micro&SecurityGroupId.1=sg-1&SecurityGroupId.2=sg-2&UserData=IyEvYmluL3No%0A"
            + "&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name"
            + "&TagSpecification.1.Tag.1.Value=web+one&Filter.2.Name=tag%3AName&Filter.2.Value.1=a&Filter.2.Value.2=b"
            + "&Filter.1.Name=instance-state-name&Filter.1.Value.1=running&DryRun=true")
        #expect(try form.required("Action") == "RunInstances")
        #expect(try form.integer("MaxCount") == 3)
        #expect(try form.integer("Missing", default: 1) == 1)
        #expect(form.list("SecurityGroupId") == ["sg-1", "sg-2"])
        #expect(form["UserData"] == "IyEvYmluL3No\n")
        #expect(form.tags("TagSpecification.1.Tag").map(\.key) == ["Name"])
        #expect(form.tags("TagSpecification.1.Tag").map(\.value) == ["web one"])
        #expect(form.filters().map(\.name) == ["instance-state-name", "tag:Name"])
        #expect(form.filters().map(\.values) == [["running"], ["a", "b"]])
        #expect(form.bool("DryRun"))
    }

    @Test func missingAndMalformedParametersAreNamed() {
        let form = QueryForm("Action=&MinCount=lots")
        #expect(throws: EC2Error.missingParameter("Action")) { try form.required("Action") }
        #expect(throws: EC2Error.missingParameter("ImageId")) { try form.required("ImageId") }
        #expect(throws: EC2Error.invalidParameterValue("MinCount", "'lots' is not a whole number")) {
            try form.integer("MinCount")
        }
    }
}

@Suite struct EC2XMLTests {
    @Test func responsesCarryTheNamespaceAndRequestId() {
        let xml = EC2XML.response(action: "DescribeRegions", requestId: "req-1", [
            .items("regionInfo", [[.text("regionName", "site1"), .text("regionEndpoint", "127.0.0.1:8773")]]),
        ])
        #expect(xml.contains("<DescribeRegionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"))
        #expect(xml.contains("<requestId>req-1</requestId><regionInfo><item><regionName>site1</regionName>"))
        #expect(xml.hasSuffix("</DescribeRegionsResponse>"))
    }

    @Test func errorsHaveEC2sShapeAndEscapeEverything() {
        let xml = EC2XML.error(EC2Error("InvalidInstanceID.NotFound", "The instance ID '<i-1&2>' does not exist"),
                               requestId: "req-2")
        #expect(xml.contains("<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code>"))
        #expect(xml.contains("<Message>The instance ID &apos;&lt;i-1&amp;2&gt;&apos; does not exist</Message>"))
        #expect(xml.contains("<RequestID>req-2</RequestID></Response>"))
        #expect(EC2XML.render(.text("a", "\u{1}x\"")) == "<a>x&quot;</a>")
    }
}

"""EC2 scenarios run by real awscli and boto3 against a veem gateway (EC2GatewayTests starts the site).

Usage: ec2_scenarios.py SCENARIO (`model` runs ec2_model.py: every answer walked through botocore's model). The environment gives VEEM_EC2_URL, VEEM_EC2_REGION, VEEM_EC2_IMAGE and two
accounts: VEEM_A_ID/KEY/SECRET and VEEM_B_ID/KEY/SECRET. Every check asserts; any failure exits non-zero with a
traceback naming it.
"""
import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

URL = os.environ["VEEM_EC2_URL"]
REGION = os.environ["VEEM_EC2_REGION"]
IMAGE = os.environ["VEEM_EC2_IMAGE"]
A = (os.environ["VEEM_A_ID"], os.environ["VEEM_A_KEY"], os.environ["VEEM_A_SECRET"])
B = (os.environ["VEEM_B_ID"], os.environ["VEEM_B_KEY"], os.environ["VEEM_B_SECRET"])


def client(account=A, secret=None):
    return boto3.client("ec2", endpoint_url=URL, region_name=REGION, aws_access_key_id=account[1],
                        aws_secret_access_key=secret or account[2],
                        config=Config(retries={"max_attempts": 1}))


def aws(*args, account=A):
    """Runs awscli; returns its parsed JSON output (or None)."""
    env = dict(os.environ, AWS_ACCESS_KEY_ID=account[1], AWS_SECRET_ACCESS_KEY=account[2],
               AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_EC2_METADATA_DISABLED="true")
    done = subprocess.run(["aws", "--endpoint-url", URL, "--output", "json", "ec2", *args], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"aws ec2 {' '.join(args)} failed ({done.returncode}): {done.stderr}"
    return json.loads(done.stdout) if done.stdout.strip() else None


def raw(action, params=None, account=A, secret=None, region=None, date=None):
    """A signed Query call botocore has no model for (veem's extensions, bad input); returns (status, xml)."""
    body = urllib.parse.urlencode({"Action": action, "Version": "2016-11-15", **(params or {})})
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    request = AWSRequest(method="POST", url=URL + "/", data=body, headers=headers)
    auth = SigV4Auth(Credentials(account[1], secret or account[2]), "ec2", region or REGION)
    if date:  # sign as if at another time
        import botocore.auth
        real = botocore.auth.get_current_datetime
        botocore.auth.get_current_datetime = lambda: date
        try:
            auth.add_auth(request)
        finally:
            botocore.auth.get_current_datetime = real
    else:
        auth.add_auth(request)
    http = urllib.request.Request(URL + "/", data=body.encode(), headers=dict(request.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(http) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def expect_error(code, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as error:
        got = error.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {error}"
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        assert 400 <= status < 500 or code in ("InsufficientInstanceCapacity",), f"{code} came with HTTP {status}"
        return error
    raise AssertionError(f"expected {code}, the call succeeded")


def instance_ids(ec2, **filters):
    pages = ec2.describe_instances(Filters=[{"Name": k, "Values": v} for k, v in filters.items()])
    return sorted(i["InstanceId"] for r in pages["Reservations"] for i in r["Instances"])


def state_of(ec2, instance):
    reservations = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
    return reservations[0]["Instances"][0]["State"]["Name"]


def lifecycle():
    """awscli: run → wait running → describe → stop → wait stopped → start → wait running → terminate."""
    run = aws("run-instances", "--image-id", IMAGE, "--instance-type", "t2.nano", "--count", "2",
              "--tag-specifications", "ResourceType=instance,Tags=[{Key=role,Value=web}]")
    ids = sorted(i["InstanceId"] for i in run["Instances"])
    assert len(ids) == 2 and all(i.startswith("i-") for i in ids), run
    assert all(i["State"]["Name"] == "pending" and i["State"]["Code"] == 0 for i in run["Instances"]), run
    aws("wait", "instance-running", "--instance-ids", *ids)
    described = aws("describe-instances", "--instance-ids", *ids)
    instances = [i for r in described["Reservations"] for i in r["Instances"]]
    assert sorted(i["InstanceId"] for i in instances) == ids
    for instance in instances:
        assert instance["State"] == {"Code": 16, "Name": "running"}, instance["State"]
        assert instance["ImageId"] == IMAGE and instance["InstanceType"] == "t2.nano"
        assert {"Key": "role", "Value": "web"} in instance["Tags"], instance.get("Tags")
        assert instance["Placement"]["AvailabilityZone"] == "default"
        assert instance["SecurityGroups"][0]["GroupName"] == "default"
    stopped = aws("stop-instances", "--instance-ids", ids[0])
    assert stopped["StoppingInstances"][0]["PreviousState"]["Name"] == "running", stopped
    aws("wait", "instance-stopped", "--instance-ids", ids[0])
    aws("start-instances", "--instance-ids", ids[0])
    aws("wait", "instance-running", "--instance-ids", ids[0])
    aws("reboot-instances", "--instance-ids", ids[0])
    terminated = aws("terminate-instances", "--instance-ids", *ids)
    assert len(terminated["TerminatingInstances"]) == 2
    aws("wait", "instance-terminated", "--instance-ids", *ids)
    ec2 = client()
    assert all(state_of(ec2, i) == "terminated" for i in ids)
    # Terminating again is harmless; starting a terminated instance is not.
    ec2.terminate_instances(InstanceIds=ids)
    expect_error("IncorrectInstanceState", ec2.start_instances, InstanceIds=[ids[0]])
    print("ok lifecycle", ids)


def extensions():
    """RESERVOIR's control states and service manifests, signed as any EC2 call."""
    ec2 = client()
    instance = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, InstanceType="t2.nano")["Instances"][0]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1})
    for action, reason, back in [("PauseInstances", "Client.UserInitiatedPause", "UnpauseInstances"),
                                 ("SuspendInstances", "Client.UserInitiatedSuspend", "ResumeInstances")]:
        status, xml = raw(action, {"InstanceId.1": iid})
        assert status == 200 and "<instanceId>" + iid in xml, (status, xml)
        ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1})
        described = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        assert described["StateReason"]["Code"] == reason, described.get("StateReason")
        status, xml = raw(back, {"InstanceId.1": iid})
        assert status == 200, xml
        ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1})
    manifest = """
service: ec2shop
components:
  web: {memoryMiB: 64, diskGiB: 0, image: tiny, replicas: {initial: 2, min: 1, max: 3}}
"""
    status, xml = raw("CreateService", {"Manifest": manifest})
    assert status == 200 and "<serviceName>ec2shop</serviceName>" in xml, xml
    status, xml = raw("CreateService", {"Manifest": manifest})
    assert status == 400 and "InvalidService.Duplicate" in xml, xml
    status, xml = raw("CreateService", {"Manifest": "service: bad\ncomponents: {}\n"})
    assert status == 400 and "InvalidParameterValue" in xml, xml
    status, xml = raw("DescribeServices", {"ServiceName.1": "ec2shop"}, account=B)
    assert status == 400 and "InvalidService.NotFound" in xml, xml
    status, xml = raw("DescribeServices")
    assert status == 200 and xml.count("<veeId>") == 2, xml
    status, xml = raw("DeleteService", {"ServiceName": "ec2shop"})
    assert status == 200 and "UNDEPLOYING" in xml, xml
    ec2.terminate_instances(InstanceIds=[iid])
    print("ok extensions")


def resources():
    ec2 = client()
    # Site facts.
    assert [r["RegionName"] for r in ec2.describe_regions()["Regions"]] == [REGION]
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [(z["ZoneName"], z["State"]) for z in zones] == [("default", "available")], zones
    types = ec2.describe_instance_types(InstanceTypes=["t2.nano"])["InstanceTypes"]
    assert types[0]["VCpuInfo"]["DefaultVCpus"] == 1 and types[0]["MemoryInfo"]["SizeInMiB"] == 128, types
    assert len(ec2.describe_instance_types(Filters=[{"Name": "vcpu-info.default-vcpus", "Values": ["2"]}])
               ["InstanceTypes"]) == 2

    # Key pairs.
    created = ec2.create_key_pair(KeyName="k1")
    assert created["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----"), created["KeyMaterial"][:40]
    assert len(created["KeyFingerprint"].split(":")) == 20
    expect_error("InvalidKeyPair.Duplicate", ec2.create_key_pair, KeyName="k1")
    public = subprocess.run(["ssh-keygen", "-y", "-f", "/dev/stdin"], input=created["KeyMaterial"],
                            capture_output=True, text=True)
    if public.returncode == 0:  # ssh-keygen is there: the private key is a real one
        imported = ec2.import_key_pair(KeyName="k2", PublicKeyMaterial=public.stdout.encode())
        assert imported["KeyName"] == "k2"
    else:
        ec2.import_key_pair(KeyName="k2", PublicKeyMaterial=b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test")
    expect_error("InvalidKeyPair.Format", ec2.import_key_pair, KeyName="k3", PublicKeyMaterial=b"not a key")
    names = [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]]
    assert names == ["k1", "k2"], names
    assert [k["KeyName"] for k in ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["k*1"]}])
            ["KeyPairs"]] == ["k1"]
    expect_error("InvalidKeyPair.NotFound", ec2.describe_key_pairs, KeyNames=["nope"])
    ec2.delete_key_pair(KeyName="k2")
    assert [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]] == ["k1"]

    # Security groups.
    group = ec2.create_security_group(GroupName="web", Description="web tier")["GroupId"]
    expect_error("InvalidGroup.Duplicate", ec2.create_security_group, GroupName="web", Description="again")
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    expect_error("InvalidPermission.Duplicate", ec2.authorize_security_group_ingress, GroupId=group,
                 IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                 "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    expect_error("InvalidParameterValue", ec2.authorize_security_group_ingress, GroupId=group,
                 IpPermissions=[{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 70000,
                                 "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    aws("authorize-security-group-ingress", "--group-name", "web", "--protocol", "udp", "--port", "53",
        "--cidr", "192.0.2.0/24")
    described = ec2.describe_security_groups(GroupNames=["web"])["SecurityGroups"][0]
    ports = sorted((p["IpProtocol"], p["FromPort"]) for p in described["IpPermissions"])
    assert ports == [("tcp", 22), ("tcp", 80), ("udp", 53)], ports
    by_port = ec2.describe_security_groups(Filters=[{"Name": "ip-permission.from-port", "Values": ["22"]}])
    assert [g["GroupName"] for g in by_port["SecurityGroups"]] == ["web"]
    ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    expect_error("InvalidPermission.NotFound", ec2.revoke_security_group_ingress, GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    # Egress: all out by default; a rule of one's own beside it, then the default one gone.
    assert described["IpPermissionsEgress"][0]["IpProtocol"] == "-1", described["IpPermissionsEgress"]
    aws("authorize-security-group-egress", "--group-id", group, "--ip-permissions",
        "IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=0.0.0.0/0}]")
    ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    egress = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissionsEgress"]
    assert [(p["IpProtocol"], p.get("FromPort")) for p in egress] == [("tcp", 443)], egress
    expect_error("InvalidPermission.NotFound", ec2.revoke_security_group_egress, GroupId=group, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    names = sorted(g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"])
    assert names == ["default", "web"], names

    # An instance in the group, with the key; the group cannot go while it runs.
    run = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, InstanceType="t2.nano", KeyName="k1",
                            SecurityGroupIds=[group], ClientToken="token-1",
                            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "db"}]}])
    iid = run["Instances"][0]["InstanceId"]
    again = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, InstanceType="t2.nano", KeyName="k1",
                              SecurityGroupIds=[group], ClientToken="token-1",
                              TagSpecifications=[{"ResourceType": "instance",
                                                  "Tags": [{"Key": "Name", "Value": "db"}]}])
    assert again["Instances"][0]["InstanceId"] == iid and again["ReservationId"] == run["ReservationId"]
    expect_error("IdempotentParameterMismatch", ec2.run_instances, ImageId=IMAGE, MinCount=2, MaxCount=2,
                 ClientToken="token-1")
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1})
    expect_error("DependencyViolation", ec2.delete_security_group, GroupId=group)
    assert instance_ids(ec2, **{"tag:Name": ["db"]}) == [iid]
    assert instance_ids(ec2, **{"instance.group-name": ["web"], "instance-state-name": ["running"]}) == [iid]
    assert instance_ids(ec2, **{"key-name": ["k1"]}) == [iid]
    assert instance_ids(ec2, **{"tag:Name": ["other"]}) == []

    # Addresses.
    allocation = ec2.allocate_address(Domain="vpc")
    association = ec2.associate_address(AllocationId=allocation["AllocationId"], InstanceId=iid)["AssociationId"]
    described = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert described["PublicIpAddress"] == allocation["PublicIp"], described
    addresses = ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": [iid]}])["Addresses"]
    assert [a["AssociationId"] for a in addresses] == [association]
    expect_error("InvalidIPAddress.InUse", ec2.release_address, AllocationId=allocation["AllocationId"])
    ec2.disassociate_address(AssociationId=association)
    ec2.release_address(AllocationId=allocation["AllocationId"])
    assert ec2.describe_addresses()["Addresses"] == []
    expect_error("InvalidAllocationID.NotFound", ec2.release_address, AllocationId=allocation["AllocationId"])

    # Volumes.
    volume = ec2.create_volume(AvailabilityZone="default", Size=2,
                               TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "tier", "Value": "db"}]}])
    vid = volume["VolumeId"]
    assert volume["State"] == "available" and volume["Size"] == 2
    expect_error("InvalidParameterValue", ec2.create_volume, AvailabilityZone="nowhere", Size=1)
    attached = ec2.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/vdb")
    assert attached["State"] == "attached"
    expect_error("VolumeInUse", ec2.delete_volume, VolumeId=vid)
    in_use = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["Volumes"]
    assert [(v["VolumeId"], v["State"], v["Attachments"][0]["Device"]) for v in in_use] == [(vid, "in-use", "/dev/vdb")]
    ec2.detach_volume(VolumeId=vid)
    assert ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]["State"] == "available"
    ec2.delete_volume(VolumeId=vid)
    expect_error("InvalidVolume.NotFound", ec2.describe_volumes, VolumeIds=[vid])

    # Tags.
    ec2.create_tags(Resources=[iid, group], Tags=[{"Key": "env", "Value": "test"}])
    tags = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["env"]}])["Tags"]
    assert sorted((t["ResourceId"], t["ResourceType"]) for t in tags) == sorted(
        [(iid, "instance"), (group, "security-group")]), tags
    ec2.delete_tags(Resources=[group], Tags=[{"Key": "env"}])
    assert [t["ResourceId"] for t in ec2.describe_tags(Filters=[{"Name": "key", "Values": ["env"]}])["Tags"]] == [iid]
    expect_error("InvalidVolume.NotFound", ec2.create_tags, Resources=["vol-0123456789abcdef0"],
                 Tags=[{"Key": "a", "Value": "b"}])

    # Images: the site's, an account's own, shared with another account.
    images = ec2.describe_images()["Images"]
    assert IMAGE in [i["ImageId"] for i in images], images
    mine = ec2.register_image(Name="my-image", ImageLocation="tiny")["ImageId"]
    expect_error("InvalidAMIName.Duplicate", ec2.register_image, Name="my-image", ImageLocation="tiny")
    other = client(B)
    assert mine not in [i["ImageId"] for i in other.describe_images()["Images"]]
    expect_error("InvalidAMIID.NotFound", other.run_instances, ImageId=mine, MinCount=1, MaxCount=1)
    ec2.modify_image_attribute(ImageId=mine, LaunchPermission={"Add": [{"UserId": B[0]}]})
    permissions = ec2.describe_image_attribute(ImageId=mine, Attribute="launchPermission")["LaunchPermissions"]
    assert permissions == [{"UserId": B[0]}], permissions
    assert mine in [i["ImageId"] for i in other.describe_images(ExecutableUsers=["self"])["Images"]]
    shared = other.run_instances(ImageId=mine, MinCount=1, MaxCount=1, InstanceType="t2.nano")["Instances"][0]
    other.terminate_instances(InstanceIds=[shared["InstanceId"]])
    ec2.modify_image_attribute(ImageId=mine, LaunchPermission={"Remove": [{"UserId": B[0]}]})
    assert mine not in [i["ImageId"] for i in other.describe_images()["Images"]]
    ec2.deregister_image(ImageId=mine)
    expect_error("InvalidAMIID.NotFound", ec2.describe_images, ImageIds=[mine])

    # DryRun: 412 DryRunOperation, nothing made.
    before = instance_ids(ec2)
    try:
        ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, DryRun=True)
        raise AssertionError("DryRun ran")
    except ClientError as error:
        assert error.response["Error"]["Code"] == "DryRunOperation", error
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    expect_error("DryRunOperation", ec2.create_key_pair, KeyName="dry", DryRun=True)
    assert instance_ids(ec2) == before
    assert "dry" not in [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]]
    # DryRun still reports what is wrong.
    expect_error("InvalidAMIID.NotFound", ec2.run_instances, ImageId="ami-0000000000000dead", MinCount=1,
                 MaxCount=1, DryRun=True)

    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1})
    ec2.delete_security_group(GroupId=group)
    expect_error("CannotDelete", ec2.delete_security_group, GroupName="default")
    print("ok resources")


def isolation():
    a, b = client(A), client(B)
    iid = a.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, InstanceType="t2.nano")["Instances"][0]["InstanceId"]
    group = a.create_security_group(GroupName="private", Description="a's")["GroupId"]
    assert instance_ids(b) == [], "B sees A's instances"
    expect_error("InvalidInstanceID.NotFound", b.describe_instances, InstanceIds=[iid])
    expect_error("InvalidInstanceID.NotFound", b.terminate_instances, InstanceIds=[iid])
    expect_error("InvalidGroup.NotFound", b.delete_security_group, GroupId=group)
    expect_error("InvalidInstanceID.NotFound", b.create_tags, Resources=[iid], Tags=[{"Key": "x", "Value": "y"}])
    assert state_of(a, iid) in ("pending", "running")
    # The same name is free in another account.
    b.create_security_group(GroupName="private", Description="b's")
    # A wrong secret, an unknown key, another region.
    expect_error("SignatureDoesNotMatch", client(A, secret="x" * 40).describe_instances)
    expect_error("AuthFailure", client(("0", "AKIANOTAKEY000000000", "y" * 40)).describe_instances)
    status, xml = raw("DescribeInstances", region="elsewhere")
    assert status == 403 and "SignatureDoesNotMatch" in xml, (status, xml)
    a.terminate_instances(InstanceIds=[iid])
    print("ok isolation")


def bad_input():
    ec2 = client()
    before = (instance_ids(ec2), ec2.describe_key_pairs()["KeyPairs"], ec2.describe_security_groups()["SecurityGroups"])
    cases = [
        ("Frobnicate", {}, 400, "InvalidAction"),
        ("RunInstances", {"MinCount": "1", "MaxCount": "1"}, 400, "MissingParameter"),
        ("RunInstances", {"ImageId": IMAGE, "MinCount": "one", "MaxCount": "1"}, 400, "InvalidParameterValue"),
        ("RunInstances", {"ImageId": IMAGE, "MinCount": "2", "MaxCount": "1"}, 400, "InvalidParameterValue"),
        ("RunInstances", {"ImageId": IMAGE, "MinCount": "1", "MaxCount": "1", "InstanceType": "huge"}, 400,
         "InvalidParameterValue"),
        ("RunInstances", {"ImageId": IMAGE, "MinCount": "1", "MaxCount": "1", "KeyName": "nokey"}, 400,
         "InvalidKeyPair.NotFound"),
        ("RunInstances", {"ImageId": "ami-00000000000000bad", "MinCount": "1", "MaxCount": "1"}, 400,
         "InvalidAMIID.NotFound"),
        ("RunInstances", {"ImageId": IMAGE, "MinCount": "1", "MaxCount": "1", "UserData": "!!"}, 400,
         "InvalidParameterValue"),
        ("TerminateInstances", {"InstanceId.1": "i-0123456789abcdef0"}, 400, "InvalidInstanceID.NotFound"),
        ("TerminateInstances", {"InstanceId.1": "web1"}, 400, "InvalidInstanceID.Malformed"),
        ("TerminateInstances", {}, 400, "MissingParameter"),
        ("DeleteSecurityGroup", {"GroupId": "sg-0123456789abcdef0"}, 400, "InvalidGroup.NotFound"),
        ("CreateSecurityGroup", {"GroupName": "x"}, 400, "MissingParameter"),
        ("AttachVolume", {"VolumeId": "vol-0123456789abcdef0", "InstanceId": "i-0123456789abcdef0",
                          "Device": "/dev/vdb"}, 400, "InvalidVolume.NotFound"),
        ("CreateVolume", {"AvailabilityZone": "default", "Size": "0"}, 400, "InvalidParameterValue"),
        ("DescribeInstances", {"Filter.1.Name": "colour", "Filter.1.Value.1": "red"}, 400, "InvalidParameterValue"),
        ("AssociateAddress", {"AllocationId": "eipalloc-0123456789abcdef0", "InstanceId": "i-0123456789abcdef0"},
         400, "InvalidAllocationID.NotFound"),
        # A missing parameter is named before anything is looked up, a malformed id before it is searched for.
        ("AttachVolume", {"VolumeId": "vol-0123456789abcdef0"}, 400, "MissingParameter"),
        ("AttachVolume", {"VolumeId": "vol-0123456789abcdef0", "InstanceId": "i-0123456789abcdef0"}, 400,
         "MissingParameter"),
        ("AttachVolume", {"VolumeId": "vol-0123456789abcdef0", "InstanceId": "web1", "Device": "/dev/vdb"}, 400,
         "InvalidInstanceID.Malformed"),
        ("AssociateAddress", {"AllocationId": "eipalloc-0123456789abcdef0"}, 400, "MissingParameter"),
        ("DeleteVolume", {"VolumeId": "vol-nope"}, 400, "InvalidVolumeID.Malformed"),
        ("DescribeVolumes", {"VolumeId.1": "volume-1"}, 400, "InvalidVolumeID.Malformed"),
        ("DescribeImages", {"ImageId.1": "ami-zz"}, 400, "InvalidAMIID.Malformed"),
        ("RunInstances", {"ImageId": "ami-zz", "MinCount": "1", "MaxCount": "1"}, 400, "InvalidAMIID.Malformed"),
        ("RunInstances", {"ImageId": IMAGE, "MinCount": "1", "MaxCount": "1", "SecurityGroupId.1": "default"}, 400,
         "InvalidGroupId.Malformed"),
        ("DeleteSecurityGroup", {"GroupId": "sg-zz"}, 400, "InvalidGroupId.Malformed"),
        ("ReleaseAddress", {"AllocationId": "eipalloc-zz"}, 400, "InvalidAllocationID.Malformed"),
        ("DisassociateAddress", {"AssociationId": "eipassoc-zz"}, 400, "InvalidAssociationID.Malformed"),
        ("CreateVolume", {"AvailabilityZone": "default", "Size": "1", "SnapshotId": "snap-zz"}, 400,
         "InvalidSnapshotID.Malformed"),
        ("DescribeInstances", {"MaxResults": "5", "InstanceId.1": "i-0123456789abcdef0"}, 400,
         "InvalidParameterCombination"),
        ("DescribeInstances", {"MaxResults": "5000"}, 400, "InvalidParameterValue"),
        ("DescribeInstanceAttribute", {"InstanceId": "i-0123456789abcdef0"}, 400, "MissingParameter"),
        # DryRun answers the real error when the call would fail.
        ("TerminateInstances", {"InstanceId.1": "i-0123456789abcdef0", "DryRun": "true"}, 400,
         "InvalidInstanceID.NotFound"),
    ]
    for action, params, status, code in cases:
        got, xml = raw(action, params)
        assert got == status and f"<Code>{code}</Code>" in xml, (action, params, got, xml)
        assert "<RequestID>" in xml and "<Message>" in xml, xml
    # A signature over other bytes than those sent, and a stale date.
    got, xml = raw("DescribeInstances", secret="wrong" * 8)
    assert got == 403 and "SignatureDoesNotMatch" in xml, xml
    import datetime
    stale = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    got, xml = raw("DescribeInstances", date=stale)
    assert got == 400 and "RequestExpired" in xml, (got, xml)
    request = urllib.request.Request(URL + "/", data=b"Action=DescribeInstances", method="POST")
    try:
        urllib.request.urlopen(request)
        raise AssertionError("an unsigned call was answered")
    except urllib.error.HTTPError as error:
        assert error.code == 401 and b"AuthFailure" in error.read()
    after = (instance_ids(ec2), ec2.describe_key_pairs()["KeyPairs"], ec2.describe_security_groups()["SecurityGroups"])
    assert after == before, "an error changed something"
    print("ok bad_input", len(cases) + 3, "cases")


def vpcs():
    """The default VPC and its subnet per zone; a VPC and subnet of one's own; instances on a subnet at an address
    chosen or given, each with its one network interface; what refuses and what may not be deleted yet."""
    ec2, other = client(A), client(B)
    default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(default) == 1 and default[0]["CidrBlock"] == "172.31.0.0/16" and default[0]["IsDefault"], default
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    defaults = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default[0]["VpcId"]]}])["Subnets"]
    assert sorted(s["AvailabilityZone"] for s in defaults) == sorted(zones), defaults
    assert all(s["DefaultForAz"] and s["CidrBlock"].endswith("/20") for s in defaults), defaults
    assert defaults[0]["CidrBlock"] == "172.31.0.0/20" and defaults[0]["AvailableIpAddressCount"] == 4091, defaults

    vpc = aws("create-vpc", "--cidr-block", "10.1.0.0/16",
              "--tag-specifications", "ResourceType=vpc,Tags=[{Key=Name,Value=shop}]")["Vpc"]
    assert vpc["CidrBlock"] == "10.1.0.0/16" and not vpc["IsDefault"] and vpc["State"] == "available", vpc
    assert {"Key": "Name", "Value": "shop"} in vpc["Tags"], vpc
    vpc_id = vpc["VpcId"]
    subnet = aws("create-subnet", "--vpc-id", vpc_id, "--cidr-block", "10.1.1.0/24",
                 "--availability-zone", zones[0])["Subnet"]
    assert subnet["VpcId"] == vpc_id and subnet["AvailableIpAddressCount"] == 251 and not subnet["DefaultForAz"]
    subnet_id = subnet["SubnetId"]
    for cidr, code in [("10.2.0.0/24", "InvalidSubnet.Range"), ("10.1.1.128/25", "InvalidSubnet.Conflict"),
                       ("10.1.2.0/29", "InvalidSubnet.Range"), ("10.1.2.1/24", "InvalidParameterValue")]:
        expect_error(code, ec2.create_subnet, VpcId=vpc_id, CidrBlock=cidr)
    expect_error("InvalidParameterValue", ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.1.3.0/24",
                 AvailabilityZone="nowhere")
    expect_error("InvalidVpc.Range", ec2.create_vpc, CidrBlock="10.0.0.0/8")
    expect_error("InvalidParameterValue", ec2.create_vpc, CidrBlock="10.0.0.0/33")
    expect_error("InvalidVpcID.NotFound", ec2.create_subnet, VpcId="vpc-0123456789abcdef0", CidrBlock="10.1.3.0/24")
    expect_error("InvalidVpcID.NotFound", other.describe_vpcs, VpcIds=[vpc_id])
    expect_error("InvalidSubnetID.NotFound", other.run_instances, ImageId=IMAGE, MinCount=1, MaxCount=1,
                 SubnetId=subnet_id)
    aws("modify-subnet-attribute", "--subnet-id", subnet_id, "--map-public-ip-on-launch")
    assert ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["MapPublicIpOnLaunch"]

    # An address given, and the next one free; the interface is the VEE's, with its MAC.
    given = aws("run-instances", "--image-id", IMAGE, "--instance-type", "t2.nano", "--subnet-id", subnet_id,
                "--private-ip-address", "10.1.1.20")["Instances"][0]
    assert given["PrivateIpAddress"] == "10.1.1.20" and given["SubnetId"] == subnet_id and given["VpcId"] == vpc_id
    interface = given["NetworkInterfaces"][0]
    assert interface["PrivateIpAddress"] == "10.1.1.20" and interface["MacAddress"].startswith("52:54:00:"), interface
    assert interface["NetworkInterfaceId"].startswith("eni-") and interface["Attachment"]["DeviceIndex"] == 0
    assert given["PrivateDnsName"] == f"ip-10-1-1-20.{REGION}.compute.internal", given["PrivateDnsName"]
    chosen = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, SubnetId=subnet_id)["Instances"][0]
    assert chosen["PrivateIpAddress"] == "10.1.1.10", chosen["PrivateIpAddress"]
    plain = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1)["Instances"][0]
    assert plain["VpcId"] == default[0]["VpcId"] and plain["PrivateIpAddress"].startswith("172.31."), plain
    before = instance_ids(ec2)
    for params, code in [({"PrivateIpAddress": "10.1.1.20"}, "InvalidIPAddress.InUse"),
                         ({"PrivateIpAddress": "10.1.9.20"}, "InvalidParameterValue"),
                         ({"PrivateIpAddress": "10.1.1.2"}, "InvalidParameterValue"),
                         ({"PrivateIpAddress": "10.1.1.300"}, "InvalidParameterValue"),
                         ({"PrivateIpAddress": "10.1.1.30", "MaxCount": 2}, "InvalidParameterCombination"),
                         ({"SubnetId": "subnet-0123456789abcdef0"}, "InvalidSubnetID.NotFound"),
                         ({"Placement": {"AvailabilityZone": "elsewhere"}}, "InvalidParameterValue")]:
        merged = {"ImageId": IMAGE, "MinCount": 1, "MaxCount": 1, "SubnetId": subnet_id, **params}
        expect_error(code, ec2.run_instances, **merged)
    assert instance_ids(ec2) == before, "a refused launch launched something"
    assert ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["AvailableIpAddressCount"] == 249

    interfaces = ec2.describe_network_interfaces(
        Filters=[{"Name": "subnet-id", "Values": [subnet_id]}])["NetworkInterfaces"]
    assert sorted(i["PrivateIpAddress"] for i in interfaces) == ["10.1.1.10", "10.1.1.20"], interfaces
    mine = ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": [given["InstanceId"]]}])["NetworkInterfaces"]
    assert [i["MacAddress"] for i in mine] == [interface["MacAddress"]], mine
    assert mine[0]["Attachment"]["InstanceId"] == given["InstanceId"] and mine[0]["Status"] == "in-use", mine
    expect_error("InvalidNetworkInterfaceID.NotFound", other.describe_network_interfaces,
                 NetworkInterfaceIds=[interface["NetworkInterfaceId"]])

    # Nothing in use may go; once its instances are gone, all of it may.
    expect_error("DependencyViolation", ec2.delete_subnet, SubnetId=subnet_id)
    expect_error("DependencyViolation", ec2.delete_vpc, VpcId=vpc_id)
    ids = [given["InstanceId"], chosen["InstanceId"], plain["InstanceId"]]
    ec2.terminate_instances(InstanceIds=ids)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert ec2.describe_network_interfaces(NetworkInterfaceIds=[])["NetworkInterfaces"] == []
    ec2.delete_subnet(SubnetId=subnet_id)
    ec2.delete_vpc(VpcId=vpc_id)
    assert [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]] == [default[0]["VpcId"]]
    print("ok vpcs")


def tools():
    """What awscli, boto3, Terraform and Ansible call first: account attributes, instance status (and awscli's
    instance-status-ok waiter), pages of every paginated Describe with boto3's paginators."""
    ec2 = client()
    attributes = {a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
                  for a in ec2.describe_account_attributes()["AccountAttributes"]}
    assert attributes["supported-platforms"] == ["VPC"] and int(attributes["max-instances"][0]) > 0, attributes
    assert {"default-vpc", "max-elastic-ips", "vpc-max-elastic-ips",
            "vpc-max-security-groups-per-interface"} <= set(attributes), attributes
    only = ec2.describe_account_attributes(AttributeNames=["max-instances"])["AccountAttributes"]
    assert [a["AttributeName"] for a in only] == ["max-instances"], only
    expect_error("InvalidParameterValue", ec2.describe_account_attributes, AttributeNames=["colour"])

    run = aws("run-instances", "--image-id", IMAGE, "--instance-type", "t2.nano", "--count", "6")
    ids = sorted(i["InstanceId"] for i in run["Instances"])
    aws("wait", "instance-status-ok", "--instance-ids", *ids)
    statuses = ec2.describe_instance_status(InstanceIds=ids)["InstanceStatuses"]
    assert sorted(s["InstanceId"] for s in statuses) == ids, statuses
    for status in statuses:
        assert status["InstanceStatus"]["Status"] == "ok" and status["SystemStatus"]["Status"] == "ok", status
        assert status["InstanceStatus"]["Details"] == [{"Name": "reachability", "Status": "passed"}], status
    ec2.stop_instances(InstanceIds=ids[:1])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=ids[:1], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert ec2.describe_instance_status(InstanceIds=ids[:1])["InstanceStatuses"] == []
    stopped = ec2.describe_instance_status(InstanceIds=ids[:1], IncludeAllInstances=True)["InstanceStatuses"][0]
    assert stopped["InstanceState"]["Name"] == "stopped", stopped
    assert stopped["InstanceStatus"]["Status"] == "not-applicable", stopped

    # Pages: five at a time; an instance launched between pages shows up once, nothing repeats or goes missing.
    first = ec2.describe_instances(MaxResults=5)
    seen = [i["InstanceId"] for r in first["Reservations"] for i in r["Instances"]]
    assert len(seen) == 5 and "NextToken" in first, first
    late = ec2.run_instances(ImageId=IMAGE, InstanceType="t2.nano", MinCount=1, MaxCount=1)["Instances"][0]
    rest = ec2.describe_instances(MaxResults=5, NextToken=first["NextToken"])
    seen += [i["InstanceId"] for r in rest["Reservations"] for i in r["Instances"]]
    assert sorted(seen) == sorted(ids + [late["InstanceId"]]), (seen, ids, late["InstanceId"])
    paged = [i["InstanceId"] for page in ec2.get_paginator("describe_instances").paginate(
        PaginationConfig={"PageSize": 5}) for r in page["Reservations"] for i in r["Instances"]]
    assert sorted(paged) == sorted(ids + [late["InstanceId"]]), paged
    for volume in range(6):
        ec2.create_volume(AvailabilityZone="default", Size=1)
    for name, key, extra in [("describe_volumes", "Volumes", {}),
                             ("describe_instance_status", "InstanceStatuses", {"IncludeAllInstances": True}),
                             ("describe_tags", "Tags", {}), ("describe_security_groups", "SecurityGroups", {}),
                             ("describe_images", "Images", {})]:
        whole = getattr(ec2, name)(**extra)[key]
        pages = [item for page in ec2.get_paginator(name).paginate(PaginationConfig={"PageSize": 5}, **extra)
                 for item in page[key]]
        assert len(pages) == len(whole) and sorted(map(str, pages)) == sorted(map(str, whole)), (name, pages, whole)
    expect_error("InvalidParameterValue", ec2.describe_instances, MaxResults=4)
    expect_error("InvalidParameterCombination", ec2.describe_instances, InstanceIds=ids[:1], MaxResults=5)
    expect_error("InvalidPaginationToken", ec2.describe_instances, MaxResults=5, NextToken="not-a-token")
    console = ec2.get_console_output(InstanceId=ids[1])
    assert console["InstanceId"] == ids[1] and "Timestamp" in console, console
    expect_error("InvalidInstanceID.Malformed", ec2.get_console_output, InstanceId="web1")
    expect_error("InvalidInstanceID.NotFound", ec2.get_console_output, InstanceId="i-0123456789abcdef0")
    expect_error("DryRunOperation", ec2.get_console_output, InstanceId=ids[1], DryRun=True)
    ec2.terminate_instances(InstanceIds=ids + [late["InstanceId"]])
    attributes_of_an_instance(ec2)
    print("ok tools")


def attributes_of_an_instance(ec2):
    """Describe/ModifyInstanceAttribute: type and user data only while stopped, DisableApiTermination honoured."""
    one = ec2.run_instances(ImageId=IMAGE, InstanceType="t2.nano", MinCount=1, MaxCount=1,
                            DisableApiTermination=True)["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[one], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    def attribute(name):
        return ec2.describe_instance_attribute(InstanceId=one, Attribute=name)
    assert attribute("instanceType")["InstanceType"]["Value"] == "t2.nano"
    assert attribute("disableApiTermination")["DisableApiTermination"]["Value"] is True
    assert attribute("rootDeviceName")["RootDeviceName"]["Value"] == "/dev/vda"
    expect_error("OperationNotPermitted", ec2.terminate_instances, InstanceIds=[one])
    expect_error("IncorrectInstanceState", ec2.modify_instance_attribute, InstanceId=one,
                 InstanceType={"Value": "m1.small"})
    ec2.stop_instances(InstanceIds=[one])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[one], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    expect_error("DryRunOperation", ec2.modify_instance_attribute, InstanceId=one,
                 InstanceType={"Value": "m1.medium"}, DryRun=True)
    assert attribute("instanceType")["InstanceType"]["Value"] == "t2.nano", "DryRun changed nothing"
    ec2.modify_instance_attribute(InstanceId=one, InstanceType={"Value": "m1.medium"})
    ec2.modify_instance_attribute(InstanceId=one, UserData={"Value": b"echo hello"})
    assert attribute("userData")["UserData"]["Value"] == base64.b64encode(b"echo hello").decode()
    ec2.start_instances(InstanceIds=[one])
    ec2.get_waiter("instance_running").wait(InstanceIds=[one], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    described = ec2.describe_instances(InstanceIds=[one])["Reservations"][0]["Instances"][0]
    assert described["InstanceType"] == "m1.medium" and described["CpuOptions"]["CoreCount"] == 2, described
    expect_error("InvalidParameterValue", ec2.describe_instance_attribute, InstanceId=one, Attribute="colour")
    expect_error("InvalidInstanceID.Malformed", ec2.describe_instance_attribute, InstanceId="i-nope",
                 Attribute="instanceType")
    expect_error("InvalidParameterValue", ec2.modify_instance_attribute, InstanceId=one,
                 InstanceInitiatedShutdownBehavior={"Value": "terminate"})
    ec2.modify_instance_attribute(InstanceId=one, DisableApiTermination={"Value": False})
    ec2.terminate_instances(InstanceIds=[one])


if __name__ == "__main__":
    {"lifecycle": lifecycle, "extensions": extensions, "resources": resources, "isolation": isolation,
     "bad_input": bad_input, "tools": tools, "vpcs": vpcs, "model": lambda: __import__("ec2_model").main()}[sys.argv[1]]()

"""Walks every EC2 action veem supports through botocore's own service model (data/ec2/2016-11-15/service-2.json).

Each answer (the raw XML boto3 received) must hold only members of the action's output shape, each of the right
type (integers, booleans, timestamps, enums by value); veem's own extensions are elements named `veem…`. The members
EC2 always returns for instances, volumes and security groups must be present. Prints, per action, the share of the
output members the answer filled (counted over every structure in it), and exits non-zero naming each violation.

Usage: ec2_model.py, with the environment of ec2_scenarios.py (VEEM_EC2_URL, VEEM_EC2_REGION, VEEM_EC2_IMAGE,
VEEM_A_ID/KEY/SECRET, VEEM_B_*).
"""
import base64
import datetime
import os
import sys
import xml.etree.ElementTree as ET

import boto3
import botocore.session
from botocore.config import Config

URL = os.environ["VEEM_EC2_URL"]
REGION = os.environ["VEEM_EC2_REGION"]
IMAGE = os.environ["VEEM_EC2_IMAGE"]
KEY, SECRET = os.environ["VEEM_A_KEY"], os.environ["VEEM_A_SECRET"]
MODEL = botocore.session.get_session().get_service_model("ec2")

# What EC2 always returns for a resource, by the output shape that describes it.
ALWAYS = {
    "Instance": ["architecture", "rootDeviceName", "rootDeviceType", "blockDeviceMapping", "hypervisor",
                 "virtualizationType", "launchTime", "hibernationOptions", "metadataOptions", "instanceId",
                 "imageId", "instanceState", "instanceType", "placement", "amiLaunchIndex"],
    "Volume": ["volumeId", "size", "availabilityZone", "status", "createTime", "volumeType", "iops", "throughput",
               "multiAttachEnabled", "encrypted"],
    "SecurityGroup": ["groupId", "groupName", "ownerId", "securityGroupArn", "ipPermissions", "ipPermissionsEgress"],
    "Reservation": ["reservationId", "ownerId"],
    "KeyPairInfo": ["keyPairId", "keyName", "keyFingerprint"],
    "Image": ["imageId", "imageLocation", "imageState", "imageOwnerId", "isPublic", "architecture", "imageType",
              "name", "rootDeviceType", "virtualizationType", "hypervisor"],
}
# Elements EC2's own API Reference shows in its answers that botocore's model leaves out.
DOCUMENTED = {"AssociateAddress": {"return"}, "CreateSecurityGroup": {"return"}}

violations = []
coverage = {}  # action -> [present, total]


def local(tag):
    return tag.split("}", 1)[-1]


def check_scalar(text, shape, path, action):
    kind = shape.type_name
    text = text or ""
    try:
        if kind in ("integer", "long"):
            int(text)
        elif kind in ("double", "float"):
            float(text)
        elif kind == "boolean":
            assert text in ("true", "false"), "not true or false"
        elif kind == "timestamp":
            datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        elif kind == "blob":
            base64.b64decode(text, validate=True)
        elif kind == "string" and shape.enum:
            assert text in shape.enum, f"not one of {shape.enum[:8]}…"
    except (ValueError, AssertionError) as error:
        violations.append(f"{action}: {path}: '{text[:40]}' is not a {kind}{' enum' if shape.enum else ''} ({error})")


def walk(element, shape, path, action):
    kind = shape.type_name
    if kind == "structure":
        names = {m.serialization.get("name", n): (n, m) for n, m in shape.members.items()}
        # EC2's query protocol also answers with the member name's lower-camel form.
        for n, m in shape.members.items():
            names.setdefault(n[0].lower() + n[1:], (n, m))
        present = set()
        for child in element:
            tag = local(child.tag)
            if tag.startswith("veem"):
                continue  # veem's own extension
            if tag not in names:
                violations.append(f"{action}: {path}/{tag} is not a member of {shape.name}")
                continue
            present.add(names[tag][0])
            walk(child, names[tag][1], f"{path}/{tag}", action)
        counted = coverage.setdefault(action, [0, 0])
        counted[0] += len(present)
        counted[1] += len(shape.members)
        for required in ALWAYS.get(shape.name, []):
            if required not in {local(c.tag) for c in element}:
                violations.append(f"{action}: {path} ({shape.name}) lacks {required}, which EC2 always returns")
    elif kind == "list":
        item = shape.member.serialization.get("name", "item")
        for index, child in enumerate(element):
            if local(child.tag) != item:
                violations.append(f"{action}: {path}/{local(child.tag)}: list items are <{item}>")
                continue
            walk(child, shape.member, f"{path}[{index}]", action)
    elif kind == "map":
        return
    else:
        if len(element):
            violations.append(f"{action}: {path} should be a {kind}, has child elements")
        check_scalar(element.text, shape, path, action)


def check_answer(http_response, model, **_):
    action = model.name
    if http_response.status_code >= 300:
        return
    root = ET.fromstring(http_response.content)
    shape = model.output_shape
    if shape is None:
        return
    walk_root(root, shape, action)


def walk_root(root, shape, action):
    names = {m.serialization.get("name", n): m for n, m in shape.members.items()}
    for n, m in shape.members.items():
        names.setdefault(n[0].lower() + n[1:], m)
    present = 0
    for child in root:
        tag = local(child.tag)
        if tag == "requestId" or tag.startswith("veem") or tag in DOCUMENTED.get(action, ()):
            continue
        if tag not in names:
            violations.append(f"{action}: /{tag} is not a member of {shape.name}")
            continue
        present += 1
        walk(child, names[tag], "/" + tag, action)
    counted = coverage.setdefault(action, [0, 0])
    counted[0] += present
    counted[1] += len([n for n in shape.members if n != "RequestId"])


def main():
    session = boto3.session.Session()
    session.events.register("after-call.ec2", check_answer)
    ec2 = session.client("ec2", endpoint_url=URL, region_name=REGION, aws_access_key_id=KEY,
                         aws_secret_access_key=SECRET, config=Config(retries={"max_attempts": 1}))
    ec2.describe_regions()
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    ec2.describe_instance_types()
    ec2.describe_images()
    mine = ec2.register_image(Name="model-image", ImageLocation="tiny")["ImageId"]
    ec2.describe_image_attribute(ImageId=mine, Attribute="launchPermission")
    ec2.modify_image_attribute(ImageId=mine, LaunchPermission={"Add": [{"UserId": os.environ["VEEM_B_ID"]}]})
    ec2.deregister_image(ImageId=mine)
    ec2.create_key_pair(KeyName="model-key")
    ec2.import_key_pair(KeyName="model-imported", PublicKeyMaterial=b"ssh-ed25519 "
                        b"AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl model")
    ec2.describe_key_pairs()
    group = ec2.create_security_group(GroupName="model-group", Description="model walk")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "203.0.113.0/24"}]}])
    ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.describe_security_groups()
    ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.describe_vpcs()
    ec2.describe_subnets()
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": False})
    run = ec2.run_instances(ImageId=IMAGE, InstanceType="t2.nano", MinCount=1, MaxCount=1, KeyName="model-key",
                            SecurityGroupIds=[group], SubnetId=subnet, PrivateIpAddress="10.9.1.7")
    instance = run["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ec2.describe_network_interfaces()
    ec2.describe_instances()
    ec2.describe_instances(MaxResults=5)
    ec2.describe_instance_status(IncludeAllInstances=True)
    ec2.describe_account_attributes()
    ec2.get_console_output(InstanceId=instance)
    for attribute in ["instanceType", "userData", "disableApiTermination", "groupSet", "blockDeviceMapping",
                      "instanceInitiatedShutdownBehavior", "rootDeviceName", "sourceDestCheck", "kernel"]:
        ec2.describe_instance_attribute(InstanceId=instance, Attribute=attribute)
    ec2.modify_instance_attribute(InstanceId=instance, DisableApiTermination={"Value": False})
    ec2.create_tags(Resources=[instance], Tags=[{"Key": "Name", "Value": "model"}])
    ec2.describe_tags()
    address = ec2.allocate_address(Domain="vpc")["AllocationId"]
    association = ec2.associate_address(AllocationId=address, InstanceId=instance)["AssociationId"]
    ec2.describe_addresses()
    ec2.disassociate_address(AssociationId=association)
    ec2.release_address(AllocationId=address)
    volume = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
    ec2.describe_volumes()
    ec2.attach_volume(VolumeId=volume, InstanceId=instance, Device="/dev/vdb")
    ec2.describe_volumes(VolumeIds=[volume])
    ec2.detach_volume(VolumeId=volume)
    ec2.delete_volume(VolumeId=volume)
    ec2.reboot_instances(InstanceIds=[instance])
    ec2.stop_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ec2.start_instances(InstanceIds=[instance])
    ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "203.0.113.0/24"}]}])
    ec2.delete_tags(Resources=[instance], Tags=[{"Key": "Name"}])
    ec2.terminate_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ec2.delete_security_group(GroupId=group)
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)
    ec2.delete_key_pair(KeyName="model-key")
    ec2.delete_key_pair(KeyName="model-imported")

    print(f"{'ACTION':34} MEMBERS PRESENT")
    for action in sorted(coverage):
        present, total = coverage[action]
        print(f"{action:34} {present:4}/{total:<4} {100 * present / max(total, 1):5.1f} %")
    print(f"veem answers {len(coverage)} model actions; the model has {len(MODEL.operation_names)}")
    for violation in sorted(set(violations)):
        print("VIOLATION", violation)
    if violations:
        sys.exit(1)
    print("ok model", len(coverage), "actions")


if __name__ == "__main__":
    main()

import EC2
import Foundation
import VMI

/// DescribeInstanceAttribute and ModifyInstanceAttribute: one attribute at a time, as EC2 has them. The instance
/// type and user data change only while the instance is stopped (the new size is taken at its next start, if its
/// host has room); DisableApiTermination makes TerminateInstances refuse it.
extension CloudCall {
    static let instanceAttributes = ["instanceType", "kernel", "ramdisk", "userData", "disableApiTermination",
                                     "instanceInitiatedShutdownBehavior", "rootDeviceName", "blockDeviceMapping",
                                     "productCodes", "sourceDestCheck", "groupSet", "ebsOptimized", "sriovNetSupport",
                                     "enaSupport", "enclaveOptions", "disableApiStop"]

    /// The one instance an attribute call names.
    private func attributeInstance() throws -> Instance {
        let id = try form.required("InstanceId")
        guard ResourceID.looksValid(id, prefix: "i") else {
            throw EC2Error("InvalidInstanceID.Malformed", "Invalid id: \"\(id)\"")
        }
        guard let instance = try instances([id]).first else { throw EC2Error.notFound("InvalidInstanceID.NotFound", id, "instance ID") }
        return instance
    }

    func describeInstanceAttribute() throws -> [EC2XML.Node] {
        let attribute = try form.required("Attribute")
        guard Self.instanceAttributes.contains(attribute) else {
            throw EC2Error.invalidParameterValue("Attribute", "Value (\(attribute)) for parameter attribute is invalid. "
                + "Unknown attribute.")
        }
        let instance = try attributeInstance()
        let record = instance.record
        func value(_ text: String?) -> EC2XML.Node {
            text.map { .element(attribute, [.text("value", $0)]) } ?? .element(attribute, [])
        }
        let body: EC2XML.Node
        switch attribute {
        case "instanceType": body = value(record.instanceType)
        case "userData": body = value(record.userData)
        case "disableApiTermination": body = value(record.disableApiTermination == true ? "true" : "false")
        case "instanceInitiatedShutdownBehavior": body = value(record.shutdownBehavior ?? "stop")
        case "rootDeviceName": body = value("/dev/vda")
        case "sourceDestCheck": body = value("true")
        case "ebsOptimized", "enaSupport", "disableApiStop": body = value("false")
        case "enclaveOptions": body = .element(attribute, [.text("enabled", "false")])
        case "groupSet":
            body = .items(attribute, record.groups.map { [.text("groupId", $0),
                                                          .text("groupName", instance.groupNames[$0] ?? "")] })
        case "blockDeviceMapping": body = .items(attribute, blockDeviceMappings(instance))
        case "productCodes": body = .items(attribute, [])
        default: body = value(nil)  // kernel, ramdisk, sriovNetSupport: none
        }
        return [.text("instanceId", instance.id), body]
    }

    func modifyInstanceAttribute() throws -> [EC2XML.Node] {
        var instance = try attributeInstance()
        // Either Attribute=name&Value=v, or Name.Value=v for one attribute.
        var changes: [(String, String)] = []
        if let attribute = form["Attribute"] {
            changes.append((attribute, try form.required("Value")))
        }
        for name in ["InstanceType", "UserData", "DisableApiTermination", "InstanceInitiatedShutdownBehavior"] {
            if let value = form["\(name).Value"] { changes.append((name.prefix(1).lowercased() + name.dropFirst(), value)) }
        }
        guard changes.count == 1, let (attribute, value) = changes.first else {
            throw changes.isEmpty ? EC2Error.missingParameter("Attribute")
                : EC2Error("InvalidParameterCombination", "Only one attribute may be modified at a time")
        }
        let stopped = instance.state == .stopped && instance.vee.desired == .defined
        func requireStopped() throws {
            guard stopped else {
                throw EC2Error("IncorrectInstanceState", "The instance '\(instance.id)' is not in the 'stopped' state.")
            }
        }
        switch attribute {
        case "instanceType":
            guard let type = site.instanceType(value) else {
                throw EC2Error.invalidParameterValue("InstanceType", "'\(value)' is not one of this site's types")
            }
            try requireStopped()
            var spec = instance.vee.spec
            spec.cpus = type.cpus
            spec.memoryMiB = type.memoryMiB
            spec.context?.instanceType = type.name
            guard try operations.resize(instance.vee, to: spec, tx, now, &effects) != nil else {
                throw EC2Error("InsufficientInstanceCapacity", "The host of '\(instance.id)' has no room for "
                    + "\(type.name) (\(type.cpus) CPUs, \(type.memoryMiB) MiB)", status: 500)
            }
            instance.owned.body.instanceType = type.name
        case "userData":
            try requireStopped()
            guard let bytes = Data(base64Encoded: value) else {
                throw EC2Error.invalidParameterValue("UserData", "must be base64")
            }
            guard bytes.count <= GuestContext.maxUserDataBytes else {
                throw EC2Error.invalidParameterValue("UserData", "must be at most \(GuestContext.maxUserDataBytes) "
                    + "bytes before encoding, got \(bytes.count)")
            }
            // The guest reads it from the metadata service from its next boot on.
            var spec = instance.vee.spec
            var context = spec.context ?? GuestContext()
            context.userData = value.isEmpty ? nil : value
            spec.context = context
            guard try operations.resize(instance.vee, to: spec, tx, now, &effects) != nil else {
                throw EC2Error("InternalError", "the user data of '\(instance.id)' could not be recorded", status: 500)
            }
            instance.owned.body.userData = value.isEmpty ? nil : value
        case "disableApiTermination":
            guard ["true", "false"].contains(value.lowercased()) else {
                throw EC2Error.invalidParameterValue("DisableApiTermination", "must be true or false")
            }
            instance.owned.body.disableApiTermination = value.lowercased() == "true" ? true : nil
        case "instanceInitiatedShutdownBehavior":
            try Self.checkShutdownBehavior(value)
            instance.owned.body.shutdownBehavior = value
        default:
            throw EC2Error.invalidParameterValue("Attribute", "Value (\(attribute)) for parameter attribute is "
                + "invalid. veem modifies instanceType, userData, disableApiTermination and "
                + "instanceInitiatedShutdownBehavior.")
        }
        try update(instance.owned)
        return [.text("return", "true")]
    }

    /// Only `stop` for now: a guest that powers itself off is stopped (DEFINED); `terminate` needs the coordinator
    /// to destroy it then, which it does not do yet.
    static func checkShutdownBehavior(_ value: String) throws {
        guard value == "stop" else {
            throw EC2Error.invalidParameterValue("InstanceInitiatedShutdownBehavior", value == "terminate"
                ? "terminate is not supported by this site yet (a guest that powers off is stopped)"
                : "must be stop or terminate")
        }
    }

    static let attributeActions: [String: Action] = [
        "DescribeInstanceAttribute": Action(readOnly: true) { try $0.describeInstanceAttribute() },
        "ModifyInstanceAttribute": Action(readOnly: false) { try $0.modifyInstanceAttribute() },
    ]
}

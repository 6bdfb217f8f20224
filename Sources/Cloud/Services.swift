import EC2
import Foundation
import VMI

/// Which account submitted a service (services are named site-wide; each account sees only its own).
struct ServiceOwnership: StoredResource {
    static let kind = "service"
}

/// RESERVOIR's extension to the API: service manifests, in the EC2 style.
extension CloudCall {
    /// `Manifest` is the manifest's text (YAML or JSON, docs/manifest.md).
    func createService() throws -> [EC2XML.Node] {
        let manifest = try form.required("Manifest")
        let view = try operations.submitService(manifest, tx, now, &effects)
        try insert(ServiceOwnership(), id: "svc-" + view.name, name: view.name,
                   duplicate: EC2Error("InvalidService.Duplicate", "The service '\(view.name)' already exists"))
        return [.items("serviceSet", [serviceItem(view)])]
    }

    func ownedService(_ name: String) throws -> ServiceView {
        guard try named(name, ServiceOwnership.self) != nil, let view = try operations.service(name, tx) else {
            throw EC2Error("InvalidService.NotFound", "The service '\(name)' does not exist")
        }
        return view
    }

    func describeServices() throws -> [EC2XML.Node] {
        var names = form.list("ServiceName")
        if names.isEmpty { names = try all(ServiceOwnership.self).compactMap(\.record.name) }
        return [.items("serviceSet", try names.map { serviceItem(try ownedService($0)) })]
    }

    func deleteService() throws -> [EC2XML.Node] {
        let name = try form.required("ServiceName")
        _ = try ownedService(name)
        let view = try operations.undeployService(name, tx, now, &effects)
        return [.items("serviceSet", [serviceItem(view)])]
    }

    func serviceItem(_ view: ServiceView) -> [EC2XML.Node] {
        var item: [EC2XML.Node] = [.text("serviceName", view.name), .text("state", view.state.rawValue)]
        if let error = view.error { item.append(.text("error", error)) }
        item.append(.items("componentSet", view.components.map { component in
            [.text("name", component.name), .text("slaClass", component.slaClass),
             .text("desiredReplicas", "\(component.desiredReplicas)"),
             .text("minReplicas", "\(component.minReplicas)"), .text("maxReplicas", "\(component.maxReplicas)"),
             .items("veeSet", component.replicas.map { vee in
                 [.text("veeId", vee.id), .text("name", vee.spec.name), .text("state", vee.observed.rawValue)]
             })]
        }))
        return item
    }

    static let serviceActions: [String: Action] = [
        "CreateService": Action(readOnly: false) { try $0.createService() },
        "DescribeServices": Action(readOnly: true) { try $0.describeServices() },
        "DeleteService": Action(readOnly: false) { try $0.deleteService() },
    ]
}

import VMI

/// Why a request cannot be placed, naming the VEE that does not fit.
public struct PlacementFailure: Error, Sendable, Equatable {
    /// Index of the VEE in the request.
    public var index: Int
    public var reason: String
}

/// First-fit placement: pure, over a snapshot of hosts. The SLA-aware scheduler replaces it behind the same shape.
public enum FirstFit {
    /// A host for each spec, in order, or the first spec that cannot be placed. All or nothing: the specs of one
    /// request count against the hosts together.
    public static func place(_ specs: [VEESpec], on hosts: [HostView]) -> Result<[String], PlacementFailure> {
        var free = Dictionary(uniqueKeysWithValues: hosts.map { ($0.id, $0.capacity - $0.allocated) })
        var chosen: [String] = []
        for (index, spec) in specs.enumerated() {
            let candidates = hosts.filter { $0.state == .up }
            guard !candidates.isEmpty else {
                return .failure(PlacementFailure(index: index, reason: "no host is up"))
            }
            let withImage = candidates.filter { $0.images.contains(spec.image) }
            guard !withImage.isEmpty else {
                return .failure(PlacementFailure(index: index, reason: "no host that is up offers image '\(spec.image)'"))
            }
            guard let host = withImage.first(where: { free[$0.id, default: .zero].covers(spec.resources) }) else {
                let largest = withImage.map { free[$0.id, default: .zero] }
                    .max { ($0.cpus, $0.memoryMiB) < ($1.cpus, $1.memoryMiB) } ?? .zero
                return .failure(PlacementFailure(
                    index: index,
                    reason: "needs \(spec.cpus) CPUs, \(spec.memoryMiB) MiB, \(spec.diskGiB) GiB; the roomiest host "
                        + "has \(largest.cpus) CPUs, \(largest.memoryMiB) MiB, \(largest.diskGiB) GiB free"))
            }
            free[host.id] = free[host.id, default: .zero] - spec.resources
            chosen.append(host.id)
        }
        return .success(chosen)
    }
}

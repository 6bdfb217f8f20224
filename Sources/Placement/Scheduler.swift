import VMI

/// SLA-aware placement: pure, over a snapshot compiled into flat arrays so one decision is one linear scan.
///
/// Filters: host up, image present, group allowed by the item's directive, room under the item's class overcommit,
/// and (for classes that spread) no replica of the same component while another host would do. Weighers: pack,
/// spread, load-aware. A request is placed whole or not at all; higher-priority items go first. With
/// `allowPreemption`, a class that may preempt evicts residents of lower priority, and the plan names them.
public struct Scheduler: Sendable {
    public var weigher: Weigher
    public var allowPreemption: Bool

    public init(weigher: Weigher = .pack, allowPreemption: Bool = false) {
        self.weigher = weigher
        self.allowPreemption = allowPreemption
    }

    /// A compiled snapshot that successive placements update (for planning many requests against one snapshot).
    public struct State: Sendable {
        public private(set) var hosts: [PlacementHost]
        // Per host, in physical units: CPU counts each resident's CPUs divided by its class's overcommit.
        var usedCPU: [Double]
        var usedMemory: [Double]
        var usedDisk: [Int]
        var capacityCPU: [Double]
        var capacityMemory: [Double]
        var capacityDisk: [Int]
        var up: [Bool]
        var load: [Double]
        var groupIndex: [Int]
        var groups: [String: Int]
        var imageHosts: [String: [Bool]]
        var spreadHosts: [String: Set<Int>]
        /// Hosts by free physical CPU in quarter-CPU steps: pack and spread look at the buckets that can fit an
        /// item instead of every host. Only non-empty buckets exist, in ascending key order, so the cost follows the
        /// number of hosts, not the size of the biggest one (a 1,048,576-CPU test host once cost 80 ms a snapshot).
        var bucketKeys: [Int]
        var buckets: [[Int]]
        var bucketOf: [Int]
        var slotOf: [Int]

        public init(_ hosts: [PlacementHost]) {
            self.hosts = hosts
            let used = hosts.map(\.used)
            usedCPU = used.map(\.cpu)
            usedMemory = used.map(\.memory)
            usedDisk = used.map(\.disk)
            capacityCPU = hosts.map { Double($0.capacity.cpus) }
            capacityMemory = hosts.map { Double($0.capacity.memoryMiB) }
            capacityDisk = hosts.map(\.capacity.diskGiB)
            up = hosts.map(\.up)
            load = hosts.map(\.load)
            var groups: [String: Int] = [:]
            groupIndex = hosts.map { host in
                if let index = groups[host.group] { return index }
                groups[host.group] = groups.count
                return groups.count - 1
            }
            self.groups = groups
            var imageHosts: [String: [Bool]] = [:]
            var spreadHosts: [String: Set<Int>] = [:]
            for (index, host) in hosts.enumerated() {
                for image in host.images {
                    imageHosts[image, default: Array(repeating: false, count: hosts.count)][index] = true
                }
                for resident in host.residents { if let key = resident.spreadKey { spreadHosts[key, default: []].insert(index) } }
            }
            self.imageHosts = imageHosts
            self.spreadHosts = spreadHosts
            let keys = zip(capacityCPU, usedCPU).map { Self.bucketKey(free: $0 - $1) }
            bucketKeys = Array(Set(keys)).sorted()
            var members = [[Int]](repeating: [], count: bucketKeys.count)
            var slots = [Int](repeating: 0, count: hosts.count)
            let position = Dictionary(uniqueKeysWithValues: bucketKeys.enumerated().map { ($1, $0) })
            for (host, key) in keys.enumerated() {
                let bucket = position[key]!
                slots[host] = members[bucket].count
                members[bucket].append(host)
            }
            buckets = members
            bucketOf = keys
            slotOf = slots
        }

        static func bucketKey(free: Double) -> Int { max(0, Int((free * 4 + 1e-9).rounded(.down))) }

        /// The position of the first bucket whose key is at least `key` (`bucketKeys.count` when none is).
        func firstBucket(from key: Int) -> Int {
            var (low, high) = (0, bucketKeys.count)
            while low < high {
                let middle = (low + high) / 2
                if bucketKeys[middle] < key { low = middle + 1 } else { high = middle }
            }
            return low
        }

        /// Moves `host` to the bucket of its current free CPU, creating and dropping buckets as they fill and empty.
        mutating func rebucket(_ host: Int) {
            let key = Self.bucketKey(free: capacityCPU[host] - usedCPU[host])
            let oldKey = bucketOf[host]
            guard key != oldKey else { return }
            let old = firstBucket(from: oldKey)
            let slot = slotOf[host]
            let last = buckets[old].removeLast()
            if last != host {
                buckets[old][slot] = last
                slotOf[last] = slot
            }
            if buckets[old].isEmpty {
                buckets.remove(at: old)
                bucketKeys.remove(at: old)
            }
            let new = firstBucket(from: key)
            if new == bucketKeys.count || bucketKeys[new] != key {
                bucketKeys.insert(key, at: new)
                buckets.insert([], at: new)
            }
            slotOf[host] = buckets[new].count
            buckets[new].append(host)
            bucketOf[host] = key
        }

        @discardableResult
        mutating func add(_ item: PlacementItem, to host: Int) -> Resident {
            let resident = Resident(vee: item.name, resources: item.resources, slaClass: item.slaClass,
                                    spreadKey: item.spreadKey)
            restore(resident, to: host)
            return resident
        }

        mutating func restore(_ resident: Resident, to host: Int) {
            usedCPU[host] += Double(resident.resources.cpus) / resident.slaClass.cpuOvercommit
            usedMemory[host] += Double(resident.resources.memoryMiB) / resident.slaClass.memoryOvercommit
            usedDisk[host] += resident.resources.diskGiB
            if let key = resident.spreadKey { spreadHosts[key, default: []].insert(host) }
            hosts[host].residents.append(resident)
            rebucket(host)
        }

        mutating func evict(_ resident: Resident, from host: Int) {
            usedCPU[host] -= Double(resident.resources.cpus) / resident.slaClass.cpuOvercommit
            usedMemory[host] -= Double(resident.resources.memoryMiB) / resident.slaClass.memoryOvercommit
            usedDisk[host] -= resident.resources.diskGiB
            if let index = hosts[host].residents.lastIndex(where: { $0.vee == resident.vee }) {
                hosts[host].residents.remove(at: index)
            }
            rebucket(host)
            if let key = resident.spreadKey,
               !hosts[host].residents.contains(where: { $0.spreadKey == key }) {
                spreadHosts[key]?.remove(host)
            }
        }

        /// The filters every choice applies to an up host: image, allowed group, and room under the class.
        @inline(__always)
        func admits(_ host: Int, withImage: [Bool], allowed: [Bool]?, cpu: Double, memory: Double, disk: Int) -> Bool {
            withImage[host] && (allowed?[groupIndex[host]] ?? true) && usedCPU[host] + cpu <= capacityCPU[host] + 1e-9
                && usedMemory[host] + memory <= capacityMemory[host] + 1e-9 && usedDisk[host] + disk <= capacityDisk[host]
        }
    }

    /// Places `items` on `hosts`: a plan, or the first item (in the request's order) that cannot be placed.
    public func place(_ items: [PlacementItem], on hosts: [PlacementHost]) -> Result<PlacementPlan, PlacementFailure> {
        var state = State(hosts)
        return place(items, in: &state)
    }

    /// Places `items` against `state`, updating it only when the whole request is placed. Changes are made in
    /// place and undone on failure (copying a 10,000-host snapshot per request would cost more than deciding).
    public func place(_ items: [PlacementItem], in state: inout State) -> Result<PlacementPlan, PlacementFailure> {
        var chosen = [Int](repeating: -1, count: items.count)
        var undo: [(Resident, host: Int, added: Bool)] = []
        // Higher priority first; the request's order within a priority.
        let order = items.count == 1 ? [0] : items.indices.sorted {
            (items[$0].slaClass.priority, -$0) > (items[$1].slaClass.priority, -$1)
        }
        for index in order {
            let item = items[index]
            var host: Int
            switch choose(item, in: state) {
            case .host(let found):
                host = found
            case .none(let reason):
                guard allowPreemption, item.slaClass.mayPreempt,
                      let (found, victims) = preemption(for: item, in: state)
                else {
                    for (resident, host, added) in undo.reversed() {
                        if added { state.evict(resident, from: host) } else { state.restore(resident, to: host) }
                    }
                    return .failure(PlacementFailure(index: index, reason: reason))
                }
                for victim in victims {
                    state.evict(victim, from: found)
                    undo.append((victim, found, false))
                }
                host = found
            }
            undo.append((state.add(item, to: host), host, true))
            chosen[index] = host
        }
        let preempted = undo.filter { !$0.added }.map(\.0)
        return .success(PlacementPlan(hosts: chosen.map { state.hosts[$0].id }, preempted: preempted))
    }

    enum Choice {
        case host(Int)
        case none(String)
    }

    func choose(_ item: PlacementItem, in state: State) -> Choice {
        if weigher != .loadAware, let host = bucketedChoice(item, in: state) { return .host(host) }
        return scan(item, in: state)
    }

    /// Pack: the host with the least free CPU that fits (best fit); spread: the most. Looks only at buckets that can
    /// hold the item, and returns the first host there that passes every filter. nil when none does (the full scan
    /// then gives the reason).
    func bucketedChoice(_ item: PlacementItem, in state: State) -> Int? {
        guard let withImage = state.imageHosts[item.image] else { return nil }
        let cpu = Double(item.resources.cpus) / item.slaClass.cpuOvercommit
        let memory = Double(item.resources.memoryMiB) / item.slaClass.memoryOvercommit
        let disk = item.resources.diskGiB
        // The first bucket that may hold the item (each host is still checked exactly).
        let first = state.firstBucket(from: Int((cpu * 4 + 1e-9).rounded(.down)))
        guard first < state.buckets.count else { return nil }
        var allowed: [Bool]?
        if let groups = item.allowedGroups {
            var mask = [Bool](repeating: false, count: state.groups.count)
            for group in groups { if let index = state.groups[group] { mask[index] = true } }
            allowed = mask
        }
        let avoid = item.slaClass.spread ? item.spreadKey.flatMap { state.spreadHosts[$0] } : nil
        var fallback: Int?
        let order = weigher == .pack ? Array(first..<state.buckets.count) : Array((first..<state.buckets.count).reversed())
        for bucket in order {
            for host in state.buckets[bucket] {
                guard state.up[host], state.admits(host, withImage: withImage, allowed: allowed, cpu: cpu,
                                                   memory: memory, disk: disk)
                else { continue }
                if let avoid, avoid.contains(host) {
                    if fallback == nil { fallback = host }
                    continue
                }
                return host
            }
        }
        return fallback  // spreading is impossible: share a host
    }

    /// Every host, one by one: for the load-aware weigher, and to explain a failure.
    func scan(_ item: PlacementItem, in state: State) -> Choice {
        guard let withImage = state.imageHosts[item.image] else {
            return .none("no host offers image '\(item.image)'")
        }
        var allowed: [Bool]?
        if let groups = item.allowedGroups {
            var mask = [Bool](repeating: false, count: state.groups.count)
            for group in groups { if let index = state.groups[group] { mask[index] = true } }
            allowed = mask
        }
        let cpu = Double(item.resources.cpus) / item.slaClass.cpuOvercommit
        let memory = Double(item.resources.memoryMiB) / item.slaClass.memoryOvercommit
        let disk = item.resources.diskGiB
        // Hosts already holding a replica this item should spread away from (a memset, not a set lookup per host).
        var avoidMask: [Bool]?
        if item.slaClass.spread, let key = item.spreadKey, let taken = state.spreadHosts[key], !taken.isEmpty {
            var mask = [Bool](repeating: false, count: state.up.count)
            for host in taken { mask[host] = true }
            avoidMask = mask
        }
        var best = -1, bestScore = Double.infinity
        var fallback = -1, fallbackScore = Double.infinity
        var sawUp = false, sawRoom = false
        let weigher = self.weigher
        // One pass over every host (the bucketed path avoids this for pack and spread).
        let up = state.up, load = state.load, usedCPU = state.usedCPU, capacityCPU = state.capacityCPU
        for host in 0..<usedCPU.count {
            guard up[host] else { continue }
            sawUp = true
            guard state.admits(host, withImage: withImage, allowed: allowed, cpu: cpu, memory: memory, disk: disk)
            else { continue }
            sawRoom = true
            let fill = (usedCPU[host] + cpu) / max(capacityCPU[host], 1)
            let score: Double
            switch weigher {
            case .pack: score = -fill
            case .spread: score = fill
            case .loadAware: score = load[host] + fill / 4
            }
            if avoidMask?[host] == true {
                if score < fallbackScore { (fallback, fallbackScore) = (host, score) }
            } else if score < bestScore {
                (best, bestScore) = (host, score)
            }
        }
        if best >= 0 { return .host(best) }
        if fallback >= 0 { return .host(fallback) }  // spreading is impossible: share a host
        if !sawUp { return .none("no host is up") }
        if !sawRoom {
            let groups = item.allowedGroups.map { " in \($0.sorted().joined(separator: ", "))" } ?? ""
            return .none("no host\(groups) with image '\(item.image)' has room for \(item.resources.cpus) CPUs, "
                + "\(item.resources.memoryMiB) MiB, \(item.resources.diskGiB) GiB under class \(item.slaClass.name)")
        }
        return .none("no host can take it")
    }

    /// The host where evicting the fewest lower-priority residents (lowest priority first) makes room.
    func preemption(for item: PlacementItem, in state: State) -> (Int, [Resident])? {
        let cpu = Double(item.resources.cpus) / item.slaClass.cpuOvercommit
        let memory = Double(item.resources.memoryMiB) / item.slaClass.memoryOvercommit
        let disk = item.resources.diskGiB
        var best: (Int, [Resident])?
        for host in 0..<state.hosts.count where state.up[host] {
            guard state.imageHosts[item.image]?[host] == true,
                  item.allowedGroups.map({ $0.contains(state.hosts[host].group) }) ?? true
            else { continue }
            // What the host would have free after each eviction, lowest priority first: arithmetic on this host
            // alone, no copy of the snapshot.
            var (usedCPU, usedMemory, usedDisk) = (state.usedCPU[host], state.usedMemory[host], state.usedDisk[host])
            func fits() -> Bool {
                usedCPU + cpu <= state.capacityCPU[host] + 1e-9 && usedMemory + memory <= state.capacityMemory[host] + 1e-9
                    && usedDisk + disk <= state.capacityDisk[host]
            }
            var victims: [Resident] = []
            let candidates = state.hosts[host].residents.filter { $0.slaClass.priority < item.slaClass.priority }
                .sorted { $0.slaClass.priority < $1.slaClass.priority }
            for victim in candidates where !fits() {
                usedCPU -= Double(victim.resources.cpus) / victim.slaClass.cpuOvercommit
                usedMemory -= Double(victim.resources.memoryMiB) / victim.slaClass.memoryOvercommit
                usedDisk -= victim.resources.diskGiB
                victims.append(victim)
            }
            guard fits(), !victims.isEmpty else { continue }
            if best == nil || victims.count < best!.1.count { best = (host, victims) }
        }
        return best
    }
}

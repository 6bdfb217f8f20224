/// Runs work for each VEE in order, one item at a time, while different VEEs proceed in parallel: a slow graceful
/// shutdown of one VEE never holds up another.
actor VEELanes {
    private var tails: [String: Task<Void, Never>] = [:]
    private var pending: [String: Int] = [:]

    /// Queues `work` behind what is queued for `vee` and returns at once. Calls made one after another keep their
    /// order.
    @discardableResult
    func submit(_ vee: String, _ work: @escaping @Sendable () async -> Void) -> Task<Void, Never> {
        let previous = tails[vee]
        let task = Task {
            await previous?.value
            await work()
            self.finished(vee)
        }
        tails[vee] = task
        pending[vee, default: 0] += 1
        return task
    }

    private func finished(_ vee: String) {
        pending[vee, default: 1] -= 1
        if pending[vee] == 0 {
            pending[vee] = nil
            tails[vee] = nil
        }
    }
}

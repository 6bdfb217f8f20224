import Daemon
import Placement

/// Reads a site's SLA classes from `VEEM_SLA_CLASSES`, e.g.
/// `Gold: cpu=1, spread, priority=100, preempt; Silver: cpu=2, priority=50; Bronze: cpu=4, priority=10`.
/// Per class: `cpu=` and `memory=` overcommit factors (default 1), `spread`, `priority=` (default 0), `preempt`.
enum SLAClassSettings {
    static func parse(_ text: String) throws -> [SLAClass] {
        var classes: [SLAClass] = []
        for definition in text.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) })
        where !definition.isEmpty {
            let parts = definition.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard let name = parts.first, !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                throw SettingsError(message: "VEEM_SLA_CLASSES: '\(definition)' needs a class name before ':'")
            }
            var slaClass = SLAClass(name: name, cpuOvercommit: 1, spread: false, priority: 0, mayPreempt: false)
            let options = parts.count > 1 ? parts[1].split(separator: ",") : []
            for option in options.map({ $0.trimmingCharacters(in: .whitespaces) }) {
                let pair = option.split(separator: "=", maxSplits: 1).map(String.init)
                switch (pair[0], pair.count == 2 ? pair[1] : nil) {
                case ("spread", nil): slaClass.spread = true
                case ("preempt", nil): slaClass.mayPreempt = true
                case ("cpu", let value?): slaClass.cpuOvercommit = try factor(value, option, name)
                case ("memory", let value?): slaClass.memoryOvercommit = try factor(value, option, name)
                case ("priority", let value?):
                    guard let priority = Int(value) else {
                        throw SettingsError(message: "VEEM_SLA_CLASSES: \(name): priority must be a whole number")
                    }
                    slaClass.priority = priority
                default:
                    throw SettingsError(message: "VEEM_SLA_CLASSES: \(name): unknown option '\(option)' "
                        + "(known: cpu=, memory=, priority=, spread, preempt)")
                }
            }
            guard !classes.contains(where: { $0.name == name }) else {
                throw SettingsError(message: "VEEM_SLA_CLASSES: class \(name) is defined twice")
            }
            classes.append(slaClass)
        }
        guard !classes.isEmpty else { throw SettingsError(message: "VEEM_SLA_CLASSES defines no class") }
        return classes
    }

    private static func factor(_ value: String, _ option: String, _ name: String) throws -> Double {
        guard let factor = Double(value), factor >= 1, factor <= 64 else {
            throw SettingsError(message: "VEEM_SLA_CLASSES: \(name): '\(option)' needs an overcommit from 1 to 64")
        }
        return factor
    }
}

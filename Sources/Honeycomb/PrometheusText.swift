import Synchronization

/// Writes the Prometheus text exposition format (version 0.0.4): `# HELP`, `# TYPE`, then samples.
struct PrometheusText {
    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escaped($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.format(value) + "\n"
    }

    /// One metric with one sample (a gauge or counter without labels).
    mutating func single(_ name: String, _ type: String, _ help: String, _ value: Double) {
        family(name, type, help)
        sample(name, [], value)
    }

    mutating func histogram(_ name: String, _ help: String, _ h: Histogram.Snapshot) {
        family(name, "histogram", help)
        var cumulative = 0
        for (bound, count) in zip(h.bounds, h.counts) {
            cumulative += count
            sample(name + "_bucket", [("le", Self.format(bound))], Double(cumulative))
        }
        sample(name + "_bucket", [("le", "+Inf")], Double(h.count))
        sample(name + "_sum", [], h.sum)
        sample(name + "_count", [], Double(h.count))
    }

    static func format(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    static func escaped(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}

/// A latency histogram with fixed bucket bounds (seconds), safe to observe from any thread.
final class Histogram: Sendable {
    struct Snapshot {
        var bounds: [Double]
        /// Per bucket (not cumulative); observations above the last bound are only in `count`.
        var counts: [Int]
        var count: Int
        var sum: Double
    }

    let bounds: [Double]
    private let state: Mutex<Snapshot>

    /// Bounds from 100 µs to 10 s, a few per decade: scheduler dispatch and journal syncs both fall inside.
    static let latencyBounds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    init(bounds: [Double] = Histogram.latencyBounds) {
        self.bounds = bounds
        state = Mutex(Snapshot(bounds: bounds, counts: [Int](repeating: 0, count: bounds.count), count: 0, sum: 0))
    }

    func observe(_ seconds: Double) {
        let i = bounds.firstIndex { seconds <= $0 }
        state.withLock { s in
            if let i { s.counts[i] += 1 }
            s.count += 1
            s.sum += seconds
        }
    }

    var snapshot: Snapshot { state.withLock { $0 } }
}

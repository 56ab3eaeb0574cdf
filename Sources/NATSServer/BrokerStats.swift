import Synchronization

/// Broker-wide counters, updated with relaxed atomics (one add per read batch, not per message).
public final class BrokerStats: Sendable {
    let connections = Atomic<Int>(0)
    let totalConnections = Atomic<Int>(0)
    let inMsgs = Atomic<Int>(0)
    let inBytes = Atomic<Int>(0)
    let outMsgs = Atomic<Int>(0)
    let outBytes = Atomic<Int>(0)
    let slowConsumers = Atomic<Int>(0)
    let protocolErrors = Atomic<Int>(0)
    let tlsHandshakeFailures = Atomic<Int>(0)

    /// A consistent-enough copy for monitoring and tests.
    public struct Snapshot: Sendable, Equatable {
        public var connections: Int
        public var totalConnections: Int
        public var inMsgs: Int
        public var inBytes: Int
        public var outMsgs: Int
        public var outBytes: Int
        public var slowConsumers: Int
        public var protocolErrors: Int
        public var subscriptions: Int
        /// Handshakes that failed or timed out, and plain-text clients on a TLS port.
        public var tlsHandshakeFailures: Int
    }

    func snapshot(subscriptions: Int) -> Snapshot {
        Snapshot(
            connections: connections.load(ordering: .relaxed),
            totalConnections: totalConnections.load(ordering: .relaxed),
            inMsgs: inMsgs.load(ordering: .relaxed), inBytes: inBytes.load(ordering: .relaxed),
            outMsgs: outMsgs.load(ordering: .relaxed), outBytes: outBytes.load(ordering: .relaxed),
            slowConsumers: slowConsumers.load(ordering: .relaxed),
            protocolErrors: protocolErrors.load(ordering: .relaxed), subscriptions: subscriptions,
            tlsHandshakeFailures: tlsHandshakeFailures.load(ordering: .relaxed))
    }
}

import NATSServer

/// The embedded broker's counters in the Prometheus text format, for `/metrics`.
public enum BrokerMetrics {
    public static func text(_ s: BrokerStats.Snapshot) -> String {
        var p = PrometheusText()
        p.single("hive_broker_connections", "gauge", "Client connections open now.", Double(s.connections))
        p.single("hive_broker_connections_total", "counter", "Client connections accepted.", Double(s.totalConnections))
        p.single("hive_broker_subscriptions", "gauge", "Subscriptions now.", Double(s.subscriptions))
        p.single("hive_broker_messages_in_total", "counter", "Messages published by clients.", Double(s.inMsgs))
        p.single("hive_broker_bytes_in_total", "counter", "Payload bytes published by clients.", Double(s.inBytes))
        p.single("hive_broker_messages_out_total", "counter", "Messages delivered to subscribers.", Double(s.outMsgs))
        p.single("hive_broker_bytes_out_total", "counter", "Payload bytes delivered to subscribers.", Double(s.outBytes))
        p.single("hive_broker_slow_consumers_total", "counter", "Connections closed for not reading.", Double(s.slowConsumers))
        p.single("hive_broker_protocol_errors_total", "counter", "Connections closed for protocol errors.", Double(s.protocolErrors))
        return p.text
    }
}

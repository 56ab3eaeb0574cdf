import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HiveCore
import HiveLog

/// Sends finished goals' traces to an OpenTelemetry collector as OTLP/HTTP JSON (`POST …/v1/traces`), in the
/// background: a slow or absent collector costs a log line, never a stalled scheduler. honeycombd's spans (goal,
/// tasks, attempts) go under `service.name=honeycombd`; each drone's runs under its own `service.name=drone`
/// resource.
public final class OTLPExporter: Sendable {
    public let endpoint: URL
    private let session: URLSession
    private let log = Log("otlp")

    /// `url` is the collector's traces endpoint (e.g. `http://collector:4318/v1/traces`).
    public init(url: URL) {
        endpoint = url
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = 10
        session = URLSession(configuration: config)
    }

    func export(_ trace: TraceView) {
        guard let body = try? JSONSerialization.data(withJSONObject: Self.request(trace)) else { return }
        var request = URLRequest(url: endpoint)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = body
        let log = self.log, goal = trace.goal, endpoint = self.endpoint
        session.dataTask(with: request) { _, response, error in
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            if error != nil || !(200..<300).contains(status) {
                log.warn("export_failed", ["goal": goal, "endpoint": endpoint.absoluteString,
                                           "reason": error.map { "\($0)" } ?? "HTTP \(status)"])
            }
        }.resume()
    }

    /// The OTLP JSON request (`ExportTraceServiceRequest`): IDs as hex, times as decimal strings, spans grouped by
    /// the process that produced them.
    static func request(_ trace: TraceView) -> [String: Any] {
        func attributes(_ a: [String: String]) -> [[String: Any]] {
            a.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": ["stringValue": $0.value]] }
        }
        func span(_ s: SpanView) -> [String: Any] {
            var o: [String: Any] = ["traceId": trace.traceID, "spanId": s.spanID, "name": s.name,
                                    "kind": s.kind == .run ? 2 : 1,  // SERVER for a drone's run, else INTERNAL
                                    "startTimeUnixNano": String(s.startUnixNano),
                                    "endTimeUnixNano": String(s.endUnixNano ?? s.startUnixNano),
                                    "attributes": attributes(s.attributes.merging(["hive.span.kind": s.kind.rawValue]) { a, _ in a }),
                                    "status": ["code": s.error ? 2 : 1]]
            if let p = s.parentSpanID { o["parentSpanId"] = p }
            return o
        }
        func resource(_ service: String, _ extra: [String: String], _ spans: [SpanView]) -> [String: Any] {
            ["resource": ["attributes": attributes(["service.name": service].merging(extra) { a, _ in a })],
             "scopeSpans": [["scope": ["name": "hive", "version": HiveVersion.current], "spans": spans.map(span)]]]
        }
        // Runs and the tool calls inside them are the drones' spans.
        let droneSide: Set<SpanView.Kind> = [.run, .tool]
        var resources = [resource("honeycombd", [:], trace.spans.filter { !droneSide.contains($0.kind) })]
        let runs = Dictionary(grouping: trace.spans.filter { droneSide.contains($0.kind) }, by: { $0.attributes["hive.drone"] ?? "?" })
        for (drone, spans) in runs.sorted(by: { $0.key < $1.key }) {
            resources.append(resource("drone", ["service.instance.id": drone], spans))
        }
        return ["resourceSpans": resources]
    }
}

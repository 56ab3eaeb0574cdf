import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HiveCore
import HiveLog
import HiveSystem

/// MCP's streamable HTTP transport: every message is a POST to one endpoint with
/// `Accept: application/json, text/event-stream`; a request's reply is a JSON body or an SSE stream that carries
/// it (server notifications and requests on the way are read and dropped). The session id the server sets on
/// `initialize` and the negotiated `MCP-Protocol-Version` go on every later request; a 404 on a request that
/// carried a session id means the server forgot it (`MCPError.sessionExpired`: the client initializes again);
/// `close()` DELETEs the session. One `URLSession` per server carries every exchange (its connections are reused;
/// a session per request opened a new connection and a new delegate queue each time), and is invalidated by
/// this transport's end. Server notifications that arrive on a reply's SSE stream go to `notified`.
///
/// Bodies are read as they arrive and bounded (`MCPLimits.maxMessageBytes` per message, four times that per
/// exchange), and an SSE exchange ends as soon as our reply is in, whether or not the server closes the stream.
final class HTTPTransport: MCPTransport, @unchecked Sendable {
    let url: URL
    private let server: String
    private let limits: MCPLimits
    private let lock = PosixLock()
    private var sessionID: String?
    private var protocolVersion: String?
    private var closed = false
    private let router = ExchangeRouter()
    private let urlSession: URLSession
    private let notified: @Sendable (String) -> Void
    private let log = Log("mcp")

    init(server: String, url: URL, limits: MCPLimits, notified: @escaping @Sendable (String) -> Void = { _ in }) {
        self.server = server
        self.url = url
        self.limits = limits
        self.notified = notified
        urlSession = URLSession(configuration: .ephemeral, delegate: router, delegateQueue: nil)
    }

    // Invalidated only here: a task made on an invalidated session is a fatal error in Foundation, and while any
    // method of this transport runs (the only makers of tasks) it is alive. Exchanges in flight finish first.
    deinit { urlSession.finishTasksAndInvalidate() }

    private func exchange(expecting: Int?) -> HTTPExchange {
        HTTPExchange(server: server, limits: limits, expecting: expecting, session: urlSession, router: router, notified: notified)
    }

    var isAlive: Bool { lock.withLock { !closed } }

    /// After a handshake: the version to send in `MCP-Protocol-Version` from now on.
    func negotiated(_ version: String?) { lock.withLock { protocolVersion = version } }

    /// Forgets the session (before initializing again).
    func resetSession() { lock.withLock { sessionID = nil; protocolVersion = nil } }

    var session: String? { lock.withLock { sessionID } }

    private func post(_ body: [UInt8], extra: [String: String]) -> (URLRequest, hadSession: Bool) {
        var r = URLRequest(url: url, timeoutInterval: 24 * 3600)  // the client's own deadline cancels first
        r.httpMethod = "POST"
        r.httpBody = Data(body)
        r.setValue("application/json", forHTTPHeaderField: "Content-Type")
        r.setValue("application/json, text/event-stream", forHTTPHeaderField: "Accept")
        let (session, version) = lock.withLock { (sessionID, protocolVersion) }
        if let session { r.setValue(session, forHTTPHeaderField: "Mcp-Session-Id") }
        if let version { r.setValue(version, forHTTPHeaderField: "MCP-Protocol-Version") }
        for (k, v) in extra { r.setValue(v, forHTTPHeaderField: k) }
        return (r, session != nil)
    }

    func request(id: Int, method: String, body: [UInt8], headers: [String: String]) async throws -> JSONObject {
        if lock.withLock({ closed }) { throw MCPError.closed(server: server) }
        let (r, hadSession) = post(body, extra: headers)
        let reply = try await exchange(expecting: id).run(r)
        if let s = reply.sessionID, method == "initialize" { lock.withLock { sessionID = s } }
        try check(reply, hadSession: hadSession)
        guard let message = reply.message else {
            throw MCPError.malformed(server: server, detail: "HTTP \(reply.status) with no reply to \(method)")
        }
        return message
    }

    func notify(method: String, body: [UInt8], headers: [String: String]) async throws {
        if lock.withLock({ closed }) { throw MCPError.closed(server: server) }
        let (r, hadSession) = post(body, extra: headers)
        let reply = try await exchange(expecting: nil).run(r)
        try check(reply, hadSession: hadSession)
    }

    private func check(_ reply: HTTPExchange.Reply, hadSession: Bool) throws {
        switch reply.status {
        case 200..<300: return
        case 404 where hadSession: throw MCPError.sessionExpired(server: server)
        default:
            let detail = reply.body.isEmpty ? "no body" : JSONRPC.excerpt(reply.body, 300)
            // A JSON-RPC error in a 4xx body is still the server's answer to the request: the caller reads it.
            if reply.message?["error"] != nil, (400..<500).contains(reply.status) { return }
            throw MCPError.http(server: server, status: reply.status, detail: detail)
        }
    }

    func close() async {
        let (session, first): (String?, Bool) = lock.withLock {
            defer { closed = true }
            return (sessionID, !closed)
        }
        guard first, let session else { return }
        var r = URLRequest(url: url, timeoutInterval: 5)
        r.httpMethod = "DELETE"
        r.setValue(session, forHTTPHeaderField: "Mcp-Session-Id")
        if let v = lock.withLock({ protocolVersion }) { r.setValue(v, forHTTPHeaderField: "MCP-Protocol-Version") }
        _ = try? await exchange(expecting: nil).run(r)
    }
}

/// The delegate of a server's one `URLSession`: hands each task's events to the exchange that started it.
final class ExchangeRouter: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = PosixLock()
    private var exchanges: [Int: HTTPExchange] = [:]

    func add(_ task: URLSessionTask, _ exchange: HTTPExchange) { lock.withLock { exchanges[task.taskIdentifier] = exchange } }
    private func exchange(_ task: URLSessionTask) -> HTTPExchange? { lock.withLock { exchanges[task.taskIdentifier] } }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        exchange(dataTask)?.received(response)
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        exchange(dataTask)?.received(data)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let e = lock.withLock { exchanges.removeValue(forKey: task.taskIdentifier) }
        e?.completed(task, error: error)
    }
}

/// One HTTP request and its reply, read incrementally (the session's delegate, `ExchangeRouter`, hands it the
/// bytes) so that size limits hold while bytes arrive and an SSE stream can be left as soon as it has carried the
/// reply to `expecting`.
final class HTTPExchange: @unchecked Sendable {
    struct Reply {
        var status = 0
        var sessionID: String?
        /// The JSON-RPC reply (a JSON body, or the SSE event that answers our id).
        var message: JSONObject?
        /// The body's start, for errors.
        var body: [UInt8] = []
    }

    private let server: String
    private let limits: MCPLimits
    private let expecting: Int?
    private let lock = PosixLock()
    private var reply = Reply()
    private var isEventStream = false
    private var received = 0
    private var buffer: [UInt8] = []
    private var eventData: [UInt8] = []
    private var failure: MCPError?
    private var continuation: CheckedContinuation<Reply, any Error>?
    private var finished = false
    private var task: URLSessionDataTask?
    private let session: URLSession
    private let router: ExchangeRouter
    private let notified: @Sendable (String) -> Void

    init(server: String, limits: MCPLimits, expecting: Int?, session: URLSession, router: ExchangeRouter,
         notified: @escaping @Sendable (String) -> Void) {
        self.server = server
        self.limits = limits
        self.expecting = expecting
        self.session = session
        self.router = router
        self.notified = notified
    }

    func run(_ request: URLRequest) async throws -> Reply {
        let session = self.session
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Reply, any Error>) in
                let t = session.dataTask(with: request)
                let go: Bool = lock.withLock {
                    if finished { return false }
                    continuation = c
                    task = t
                    return true
                }
                if go {
                    router.add(t, self)
                    t.resume()
                } else { c.resume(throwing: MCPError.cancelled(server: server, method: request.httpMethod ?? "POST")) }
            }
        } onCancel: {
            self.end(.failure(MCPError.cancelled(server: server, method: request.httpMethod ?? "POST")))
        }
    }

    /// Resumes the caller once, with the reply or an error, and stops the transfer.
    private func end(_ result: Result<Reply, MCPError>) {
        let (c, t): (CheckedContinuation<Reply, any Error>?, URLSessionDataTask?) = lock.withLock {
            if finished { return (nil, nil) }
            finished = true
            defer { continuation = nil }
            return (continuation, task)
        }
        t?.cancel()
        switch result {
        case .success(let r): c?.resume(returning: r)
        case .failure(let e): c?.resume(throwing: e)
        }
    }

    func received(_ response: URLResponse) {
        let http = response as? HTTPURLResponse
        lock.withLock {
            reply.status = http?.statusCode ?? 0
            reply.sessionID = http?.value(forHTTPHeaderField: "Mcp-Session-Id")
            isEventStream = (http?.value(forHTTPHeaderField: "Content-Type") ?? "").lowercased().hasPrefix("text/event-stream")
        }
    }

    func received(_ data: Data) {
        var outcome: Result<Reply, MCPError>?
        lock.withLock {
            guard !finished else { return }
            received += data.count
            if reply.body.count < 512 { reply.body += data.prefix(512 - reply.body.count) }
            if received > (isEventStream ? limits.maxMessageBytes * 4 : limits.maxMessageBytes) {
                outcome = .failure(.limit(server: server, limit: "--mcp-max-message-bytes",
                                          detail: "an HTTP reply of more than \(received) bytes"))
                return
            }
            if isEventStream {
                outcome = feedEvents(data)
            } else {
                buffer += data
            }
        }
        if let outcome { end(outcome) }
    }

    /// SSE: `data:` lines joined until a blank line; each event one JSON-RPC message. (Under `lock`.)
    private func feedEvents(_ data: Data) -> Result<Reply, MCPError>? {
        buffer += data
        // Lines are read from a cursor and the consumed prefix dropped once (dropping each line shifted the rest of
        // the buffer per line: quadratic in a chunk of many short lines).
        var start = buffer.startIndex
        defer { buffer.removeSubrange(..<start) }
        while let nl = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var line = buffer[start..<nl]
            start = nl + 1
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.isEmpty {
                defer { eventData = [] }
                guard !eventData.isEmpty else { continue }
                guard let o = JSONRPC.decode(eventData) else {
                    return .failure(.malformed(server: server, detail: "an SSE event that is not JSON: \(JSONRPC.excerpt(eventData))"))
                }
                switch JSONRPC.kind(o) {
                case .response(let id) where id == expecting:
                    reply.message = o
                    return .success(reply)
                case .notification(let method): notified(method)
                default: break
                }
            } else if line.starts(with: Array("data:".utf8)) {
                var value = line.dropFirst(5)
                if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
                if !eventData.isEmpty { eventData.append(UInt8(ascii: "\n")) }
                eventData += value
                if eventData.count > limits.maxMessageBytes {
                    return .failure(.limit(server: server, limit: "--mcp-max-message-bytes",
                                           detail: "an SSE event of more than \(limits.maxMessageBytes) bytes"))
                }
            }
        }
        if buffer.count - start > limits.maxMessageBytes {
            return .failure(.limit(server: server, limit: "--mcp-max-message-bytes", detail: "an SSE line of more than \(limits.maxMessageBytes) bytes"))
        }
        return nil
    }

    /// A URL for messages and logs: scheme, host, port and path; user, password and query (where tokens hide) left out.
    static func redacted(_ url: URL?) -> String {
        guard let url, let scheme = url.scheme, let host = url.host else { return "?" }
        return "\(scheme)://\(host)\(url.port.map { ":\($0)" } ?? "")\(url.path)"
    }

    func completed(_ task: URLSessionTask, error: (any Error)?) {
        let outcome: Result<Reply, MCPError> = lock.withLock {
            if let error {
                return .failure(.transportClosed(server: server, detail: "\(Self.redacted(task.originalRequest?.url)): \(error.localizedDescription)"))
            }
            if isEventStream {
                if expecting == nil || !(200..<300).contains(reply.status) { return .success(reply) }
                return .failure(.malformed(server: server, detail: "the SSE stream ended without the reply"))
            }
            if !buffer.isEmpty {
                guard let o = JSONRPC.decode(buffer) else {
                    if (200..<300).contains(reply.status), expecting != nil {
                        return .failure(.malformed(server: server, detail: "a body that is not JSON: \(JSONRPC.excerpt(buffer))"))
                    }
                    return .success(reply)
                }
                if expecting != nil, (200..<300).contains(reply.status) {
                    guard case .response(let id) = JSONRPC.kind(o), id == expecting else {
                        return .failure(.malformed(server: server, detail: "a reply that does not answer request \(expecting!): \(JSONRPC.excerpt(buffer))"))
                    }
                }
                reply.message = o
            }
            return .success(reply)
        }
        end(outcome)
    }
}

import Foundation
import HiveCore
import HiveLog
import HiveSystem

/// MCP over a subprocess's stdin and stdout: one JSON-RPC message per line (`ServerProcess` moves the bytes).
///
/// Replies are matched to requests by id. A line that is not a JSON-RPC message breaks the stream (no later reply
/// could be trusted to be in step): every pending request fails naming it, the process is killed, and the client
/// starts a new one for the next call. Requests from the server are answered: `ping` with `{}`, anything else
/// with "method not found" (this client offers no sampling, roots or elicitation); at most
/// `MCPLimits.maxPendingReplies` answers wait for the server's stdin at once, and a request past that is dropped
/// (a server flooding pings gets no more of the drone than that). Notifications go to `notified` (the client
/// acts on `notifications/tools/list_changed`).
final class StdioTransport: MCPTransport, @unchecked Sendable {
    private let process: ServerProcess
    private let server: String
    private let lock = PosixLock()
    private var pending: [Int: CheckedContinuation<JSONObject, any Error>] = [:]
    /// Requests cancelled before their continuation was registered.
    private var cancelledEarly: Set<Int> = []
    private var broken: MCPError?
    /// Answers to the server's requests not yet written, and how many were dropped past the cap.
    private var pendingReplies = 0
    private var droppedRequests = 0
    private let maxPendingReplies: Int
    private let notified: @Sendable (String) -> Void
    private let log = Log("mcp")

    /// Starts the server process; throws when it cannot start.
    init(server: String, argv: [String], environment: [String: String], limits: MCPLimits,
         notified: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        self.server = server
        self.notified = notified
        maxPendingReplies = max(1, limits.maxPendingReplies)
        process = ServerProcess(server: server, argv: argv, environment: environment, limits: limits)
        process.onLine = { [weak self] line in self?.received(line) }
        process.onEnd = { [weak self] reason in self?.fail(.transportClosed(server: server, detail: reason)) }
        try await process.start()
    }

    var processID: Int32 { process.processID }
    var isAlive: Bool { lock.withLock { broken == nil } }

    private func received(_ line: [UInt8]) {
        guard let o = JSONRPC.decode(line) else {
            fail(.malformed(server: server, detail: "not JSON: \(JSONRPC.excerpt(line))"))
            process.kill()
            return
        }
        switch JSONRPC.kind(o) {
        case .response(let id):
            let c = lock.withLock { pending.removeValue(forKey: id) }
            c?.resume(returning: o)  // a reply to a request that timed out or was cancelled is dropped
        case .request(let id, let method):
            let (taken, dropped): (Bool, Int) = lock.withLock {
                guard pendingReplies < maxPendingReplies else {
                    droppedRequests += 1
                    return (false, droppedRequests)
                }
                pendingReplies += 1
                return (true, 0)
            }
            guard taken else {
                // One line for the first drop and then one per 1,024: a flood must not flood the log too.
                if dropped % 1_024 == 1 {
                    log.warn("server_request_dropped", ["server": server, "method": String(method.prefix(64)), "dropped": dropped,
                                                        "limit": "--mcp-max-pending-replies=\(maxPendingReplies)"])
                }
                return
            }
            let answer = method == "ping" ? JSONRPC.response(id: id, result: [:], error: nil)
                : JSONRPC.response(id: id, result: nil, error: (-32601, "this client does not offer \(String(method.prefix(64)))"))
            let process = self.process
            Task {
                try? await process.write(answer)
                self.lock.withLock { self.pendingReplies -= 1 }
            }
        case .notification(let method):
            log.debug("server_notification", ["server": server, "method": String(method.prefix(64))])
            notified(method)
        case .invalid(let why):
            fail(.malformed(server: server, detail: "\(why): \(JSONRPC.excerpt(line))"))
            process.kill()
        }
    }

    /// The stream is over: every waiting request fails with `error`, and so will every later one.
    private func fail(_ error: MCPError) {
        let waiting: [CheckedContinuation<JSONObject, any Error>] = lock.withLock {
            if broken == nil { broken = error }
            defer { pending = [:] }
            return Array(pending.values)
        }
        for c in waiting { c.resume(throwing: lock.withLock { broken } ?? error) }
    }

    func request(id: Int, method: String, body: [UInt8], headers: [String: String]) async throws -> JSONObject {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<JSONObject, any Error>) in
                let refused: MCPError? = lock.withLock {
                    if let broken { return broken }
                    if cancelledEarly.remove(id) != nil { return .cancelled(server: server, method: method) }
                    pending[id] = c
                    return nil
                }
                if let refused { return c.resume(throwing: refused) }
                let process = self.process
                Task {
                    do { try await process.write(body) } catch {
                        let c = self.lock.withLock { self.pending.removeValue(forKey: id) }
                        c?.resume(throwing: error)
                    }
                }
            }
        } onCancel: {
            let c: CheckedContinuation<JSONObject, any Error>? = lock.withLock {
                if let c = pending.removeValue(forKey: id) { return c }
                // Ids only grow: an old entry (a request that had already finished) can never match again.
                if cancelledEarly.count >= 1_024 { cancelledEarly.removeAll() }
                cancelledEarly.insert(id)
                return nil
            }
            c?.resume(throwing: MCPError.cancelled(server: server, method: method))
        }
    }

    func notify(method: String, body: [UInt8], headers: [String: String]) async throws {
        if let broken = lock.withLock({ broken }) { throw broken }
        try await process.write(body)
    }

    func close() async {
        fail(.closed(server: server))
        await process.terminate()
    }
}

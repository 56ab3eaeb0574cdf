import Foundation
import HiveCore

/// A JSON object as the wire gives it.
public typealias JSONObject = [String: JSONValue]

/// How JSON-RPC messages reach one MCP server: a subprocess's stdin/stdout, or streamable HTTP.
///
/// A transport only moves messages; the lifecycle (handshake, version, retries) is `MCPClient`'s. Every method
/// honours task cancellation (the client's per-call timeout is a cancellation) and throws `MCPError`s only.
protocol MCPTransport: AnyObject, Sendable {
    /// Sends request `id` (already encoded in `body`) and returns the server's response object (`result` or `error`).
    func request(id: Int, method: String, body: [UInt8], headers: [String: String]) async throws -> JSONObject
    /// Sends a notification (nothing comes back).
    func notify(method: String, body: [UInt8], headers: [String: String]) async throws
    /// False once the transport cannot carry another message (the process exited, the stream broke).
    var isAlive: Bool { get }
    /// Ends it: a stdio server's processes are gone when this returns; an HTTP session is deleted.
    func close() async
}

/// JSON-RPC encoding and decoding, one place.
enum JSONRPC {
    static func encode(_ value: JSONValue) -> [UInt8] {
        CanonicalJSON.encode(value) ?? Array("null".utf8)
    }

    static func request(id: Int, method: String, params: JSONObject?) -> [UInt8] {
        var o: JSONObject = ["jsonrpc": .string("2.0"), "id": .number(Double(id)), "method": .string(method)]
        if let params { o["params"] = .object(params) }
        return encode(.object(o))
    }

    static func notification(method: String, params: JSONObject?) -> [UInt8] {
        var o: JSONObject = ["jsonrpc": .string("2.0"), "method": .string(method)]
        if let params { o["params"] = .object(params) }
        return encode(.object(o))
    }

    static func response(id: JSONValue, result: JSONObject?, error: (Int, String)?) -> [UInt8] {
        var o: JSONObject = ["jsonrpc": .string("2.0"), "id": id]
        if let error {
            o["error"] = .object(["code": .number(Double(error.0)), "message": .string(error.1)])
        } else {
            o["result"] = .object(result ?? [:])
        }
        return encode(.object(o))
    }

    /// One message (an object; batches are not part of the revisions we speak), or nil when it is not JSON.
    /// `JSONValue.parse`, not `JSONDecoder`: a tool's result can be megabytes (see there why that matters).
    static func decode(_ bytes: some Collection<UInt8>) -> JSONObject? {
        guard case .object(let o)? = try? JSONValue.parse(Array(bytes)) else { return nil }
        return o
    }

    /// What kind of message `o` is.
    enum Kind {
        /// A reply to our request `id`.
        case response(Int)
        /// A request from the server (`ping`, `roots/list`, …) that wants an answer.
        case request(JSONValue, String)
        case notification(String)
        case invalid(String)
    }

    static func kind(_ o: JSONObject) -> Kind {
        let method: String? = if case .string(let m)? = o["method"] { m } else { nil }
        switch (o["id"], method) {
        case (.some(let id), .some(let m)) where id != .null: return .request(id, m)
        case (nil, .some(let m)): return .notification(m)
        case (.number(let n)?, nil) where o["result"] != nil || o["error"] != nil:
            guard n.isFinite, n == n.rounded(), abs(n) < 9e15 else { return .invalid("a reply with id \(n)") }
            return .response(Int(n))
        default:
            return .invalid("neither a request, a notification nor a reply to one of ours")
        }
    }

    /// Starts of untrusted text for error messages.
    static func excerpt(_ bytes: some Collection<UInt8>, _ limit: Int = 200) -> String {
        let text = String(decoding: bytes.prefix(limit), as: UTF8.self)
        return bytes.count > limit ? text + "…" : text
    }
}

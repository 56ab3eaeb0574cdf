import HiveJSON

/// A response to write: status, headers and body. `Content-Length`, `Date`-free framing, `Connection` and the
/// `SecurityHeaders` the response does not set itself are added by `serialized(keepAlive:head:overTLS:)`.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func == (a: HTTPResponse, b: HTTPResponse) -> Bool {
        a.status == b.status && a.body == b.body && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }

    /// A JSON body (already encoded).
    public static func json(_ status: Int, _ body: [UInt8], headers: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: body)
    }

    /// `{"error": message}` with `status`: every client error has a body a program can read.
    public static func error(_ status: Int, _ message: String, headers: [(name: String, value: String)] = []) -> HTTPResponse {
        var w = JSONWriter(capacity: message.utf8.count + 16)
        w.beginObject(); w.field("error", message); w.endObject()
        return json(status, w.bytes + [UInt8(ascii: "\n")], headers: headers)
    }

    public static func text(_ status: Int, _ body: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: Array(body.utf8))
    }

    /// The bytes on the wire. HEAD responses keep the length of the body they leave out. `overTLS`: the
    /// connection is HTTPS (adds HSTS).
    public func serialized(keepAlive: Bool, head: Bool = false, overTLS: Bool = false) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        for (n, v) in SecurityHeaders.added(to: headers, overTLS: overTLS) { text += "\(n): \(v)\r\n" }
        text += "Content-Length: \(body.count)\r\n"
        text += keepAlive ? "" : "Connection: close\r\n"
        text += "\r\n"
        return Array(text.utf8) + (head ? [] : body)
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 421: return "Misdirected Request"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status"
        }
    }
}

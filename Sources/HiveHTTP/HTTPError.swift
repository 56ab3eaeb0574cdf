/// Why a request could not be read, as the status the server answers with (then it closes the connection: after
/// a framing error the next request's start is unknown).
public enum HTTPError: Error, Equatable, Sendable, CustomStringConvertible {
    case badRequest(String)
    case headersTooLarge(limit: Int)
    case bodyTooLarge(limit: Int)
    case notImplemented(String)
    case versionNotSupported(String)

    public var status: Int {
        switch self {
        case .badRequest: return 400
        case .headersTooLarge: return 431
        case .bodyTooLarge: return 413
        case .notImplemented: return 501
        case .versionNotSupported: return 505
        }
    }

    public var description: String {
        switch self {
        case .badRequest(let why): return "bad request: \(why)"
        case .headersTooLarge(let limit): return "request line and headers exceed \(limit) bytes"
        case .bodyTooLarge(let limit): return "request body exceeds the limit of \(limit) bytes (http_max_body_bytes)"
        case .notImplemented(let what): return "not implemented: \(what)"
        case .versionNotSupported(let v): return "HTTP version '\(v)' is not supported (HTTP/1.0 and HTTP/1.1 are)"
        }
    }
}

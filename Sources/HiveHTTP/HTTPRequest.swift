/// One HTTP/1.1 request, as `HTTPRequestParser` read it: method and target as sent, header names as sent (looked
/// up case-insensitively), and the body (de-chunked when it came chunked).
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The request target: `/path?query` (origin form).
    public var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, target: String, minorVersion: Int = 1, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.minorVersion = minorVersion
        self.headers = headers
        self.body = body
    }

    public static func == (a: HTTPRequest, b: HTTPRequest) -> Bool {
        a.method == b.method && a.target == b.target && a.minorVersion == b.minorVersion && a.body == b.body
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    /// The value of cookie `name` from the `Cookie` header(s), as sent (`a=1; b=2`); nil when absent.
    public func cookie(_ name: String) -> String? {
        for h in headers where h.name.lowercased() == "cookie" {
            for pair in h.value.split(separator: ";") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                if kv.count == 2, HTTPRequestParser.trimmed(kv[0]) == name { return HTTPRequestParser.trimmed(kv[1]) }
            }
        }
        return nil
    }

    /// The media type of `Content-Type`, lower case, without parameters (`application/json; charset=utf-8` →
    /// `application/json`); nil without the header.
    public var mediaType: String? {
        guard let type = header("Content-Type") else { return nil }
        let essence = type.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return HTTPRequestParser.trimmed(essence).lowercased()
    }

    /// The path, percent-decoded, without the query.
    public var path: String {
        let raw = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        return Self.percentDecoded(raw) ?? raw
    }

    /// Query parameters (`a=1&b=x%20y`), percent-decoded; `+` is a space.
    public var query: [String: String] {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return [:] }
        var out: [String: String] = [:]
        for pair in parts[1].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ s: Substring) -> String {
                let spaced = String(s.map { $0 == "+" ? " " : $0 })
                return Self.percentDecoded(spaced) ?? spaced
            }
            out[decoded(kv[0])] = kv.count > 1 ? decoded(kv[1]) : ""
        }
        return out
    }

    /// Whether the connection stays open after the response: HTTP/1.1 unless `Connection: close`; HTTP/1.0 only
    /// with `Connection: keep-alive`.
    public var keepAlive: Bool {
        let tokens = (header("Connection") ?? "").lowercased().split(separator: ",").map { HTTPRequestParser.trimmed($0) }
        return minorVersion >= 1 ? !tokens.contains("close") : tokens.contains("keep-alive")
    }

    /// Whether the client waits for `100 Continue` before it sends its body (`Expect: 100-continue`, HTTP/1.1).
    public var expectsContinue: Bool { minorVersion >= 1 && header("Expect")?.lowercased() == "100-continue" }

    static func percentDecoded(_ s: String) -> String? {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%") {
                guard it.count >= 2, let hi = hexValue(it.removeFirst()), let lo = hexValue(it.removeFirst()) else { return nil }
                bytes.append(hi << 4 | lo)
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

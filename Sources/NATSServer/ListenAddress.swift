#if canImport(Glibc)
import Glibc
#endif
import HiveSystem

/// A `HOST:PORT` to listen on (`127.0.0.1:4222`, `[::1]:4222`, `localhost:0`, `:4222`, `0.0.0.0:4222`).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`; nil with a reason in `error` on bad input.
    public static func parse(_ text: String) -> Result<ListenAddress, ListenAddressError> {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return .failure(.malformed(text))
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return .failure(.malformed(text)) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65535).contains(port) else { return .failure(.badPort(text)) }
        if host.isEmpty { host = "0.0.0.0" }
        return .success(ListenAddress(host: String(host), port: port))
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Why a listen address was refused.
public enum ListenAddressError: Error, CustomStringConvertible, Sendable {
    case malformed(String)
    case badPort(String)
    case unresolvable(String, String)
    case cannotListen(String, SystemError)

    public var description: String {
        switch self {
        case .malformed(let t): return "listen address '\(t)' is not HOST:PORT (e.g. 127.0.0.1:4222 or [::1]:4222)"
        case .badPort(let t): return "listen address '\(t)' has no valid port (0-65535)"
        case .unresolvable(let h, let why): return "cannot resolve listen host '\(h)': \(why)"
        case .cannotListen(let a, let e): return "cannot listen on \(a): \(e)"
        }
    }
}

extension ListeningSocket {
    /// The broker's client port: non-blocking (loop 0's epoll accepts), backlog 4096.
    static func open(_ address: ListenAddress) throws(ListenAddressError) -> ListeningSocket {
        do {
            return try open(host: address.host, port: address.port, backlog: 4096, nonBlocking: true)
        } catch {
            switch error {
            case .unresolvable(let host, let reason): throw .unresolvable(host, reason)
            case .cannotListen(let e): throw .cannotListen(address.description, e)
            }
        }
    }
}

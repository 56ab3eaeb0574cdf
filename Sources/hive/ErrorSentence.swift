import Foundation
import HiveCommandLine
import HiveCore
import HiveTLS
import NATSClient

/// The one place an error becomes what a `hive` user reads: a sentence that says what failed and what to check.
/// Foundation's own errors (`DecodingError`, `NSCocoaErrorDomain` file errors) never reach the user raw.
enum ErrorSentence {
    /// `error` in words. `reading`: what was being read when a reply or file could not be decoded (`honeycombd's
    /// reply to result`, `plan.json`); `urls`: where honeycombd was looked for.
    static func of(_ error: any Error, reading: String? = nil, urls: String? = nil) -> String {
        switch error {
        case let e as APIError: return e.error
        case let e as RequestError: return e.description
        case let e as CommandLineError: return e.description
        case let e as NATSClientError: return bus(e, urls: urls)
        case let e as TLSError: return e.description
        case let e as DecodingError: return decoding(e, reading: reading)
        case let e as EncodingError:
            if case .invalidValue(_, let c) = e { return "cannot write \(reading ?? "the request") as JSON: \(c.debugDescription)" }
            return "cannot write \(reading ?? "the request") as JSON"
        default:
            let ns = error as NSError
            if ns.domain == NSCocoaErrorDomain { return file(ns, reading: reading) }
            if ns.domain == NSPOSIXErrorDomain, let code = POSIXErrorCode(rawValue: Int32(ns.code)) {
                return "\(reading.map { "\($0): " } ?? "")\(String(cString: strerror(code.rawValue)))"
            }
            // Hive's own errors say what they mean (`CustomStringConvertible`); anything else, Foundation's sentence.
            if !(type(of: error) is NSError.Type) { return String(describing: error) }
            return "\(reading.map { "\($0): " } ?? "")\(ns.localizedDescription)"
        }
    }

    /// Bus URL text that does not parse as addresses (so `ServerAddress.url` cannot print it), as shown to a user:
    /// a token or password in it (`nats://TOKEN@HOST`) becomes `***`, so an error message never repeats a
    /// credential to a terminal, a log or a screen share.
    static func withoutCredentials(_ urls: String) -> String {
        urls.split(separator: ",", omittingEmptySubsequences: false).map { url -> String in
            guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else { return String(url) }
            return url[..<scheme.upperBound] + "***" + url[at...]
        }.joined(separator: ",")
    }

    /// Connection errors name where honeycombd was looked for and how to point hive elsewhere.
    static func bus(_ e: NATSClientError, urls: String?) -> String {
        // Addresses as ServerAddress prints them: never with the credentials the URL may carry.
        let at = urls.map { u in (try? ServerAddress.parseList(u)).map { $0.map(\.url).joined(separator: ",") } ?? withoutCredentials(u) } ?? "the bus"
        let hint = "is honeycombd running there? (--honeycomb URL, $HIVE_URL)"
        switch e {
        case .connectionFailed(_, let reason): return "cannot reach honeycombd at \(at): \(reason); \(hint)"
        case .noServers: return "no honeycombd address given; \(hint)"
        case .invalidURL(let u, let r): return "'\(withoutCredentials(u))' is not a bus address (\(r)); give --honeycomb nats://HOST:PORT or tls://HOST:PORT"
        case .connectionLost, .closed: return "the connection to honeycombd at \(at) was lost; \(hint)"
        case .notConnected: return "not connected to honeycombd at \(at) (reconnecting); try again"
        case .timeout(let s): return "honeycombd at \(at) did not answer within \(s) s; \(hint)"
        case .noResponders: return "the bus at \(at) is up but no honeycombd answers on it; start honeycombd (or point --honeycomb at the bus it uses)"
        case .authorizationViolation: return "honeycombd at \(at) refused the credentials (give them in the URL: nats://TOKEN@HOST:PORT or nats://USER:PASS@HOST:PORT)"
        case .maxPayloadExceeded(let n, let m):
            return "the request is \(n) bytes, over the bus's max_payload of \(m) bytes (honeycombd --max-payload, up to 64 MiB)"
        default: return "\(e.description) (honeycombd at \(at))"
        }
    }

    /// `honeycombd's reply to result could not be read: field "x" missing — is honeycombd the same version as hive?`
    static func decoding(_ e: DecodingError, reading: String?) -> String {
        func path(_ c: [any CodingKey]) -> String {
            c.isEmpty ? "the top level" : c.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop(while: { $0 == "." }).description
        }
        let what: String
        switch e {
        case .keyNotFound(let key, let c): what = "field \(path(c.codingPath + [key])) missing"
        case .typeMismatch(let type, let c): what = "\(path(c.codingPath)) is not \(typeName(type))"
        case .valueNotFound(let type, let c): what = "\(path(c.codingPath)) is null where \(typeName(type)) belongs"
        case .dataCorrupted(let c):
            let detail = c.debugDescription.hasPrefix("The given data was not valid JSON") ? "not valid JSON" : c.debugDescription
            what = c.codingPath.isEmpty ? detail : "\(path(c.codingPath)): \(detail)"
        @unknown default: what = "unreadable"
        }
        guard let reading else { return "could not be read: \(what)" }
        if reading.hasPrefix("honeycombd") {
            return "\(reading) could not be read: \(what); is honeycombd the same version as hive? (hive \(HiveVersion.current); hive status shows honeycombd's)"
        }
        return "\(reading) could not be read: \(what)"
    }

    /// `cannot read plan.json: no such file`.
    static func file(_ e: NSError, reading: String?) -> String {
        let actual = (e.userInfo[NSFilePathErrorKey] as? String) ?? (e.userInfo[NSURLErrorKey] as? URL)?.path
        let path = reading ?? actual ?? "the file"
        let why: String
        switch CocoaError.Code(rawValue: e.code) {
        case .fileReadNoSuchFile, .fileNoSuchFile: why = "no such file"
        case .fileReadNoPermission: why = "permission denied"
        case .fileWriteNoPermission: return "cannot write \(path): permission denied"
        case .fileWriteOutOfSpace: return "cannot write \(path): no space left on the device"
        case .fileReadCorruptFile: why = "its contents are not in the expected format"
        case .fileReadInapplicableStringEncoding: why = "it is not UTF-8 text"
        case .fileReadTooLarge: why = "it is too large"
        default:
            var isDirectory: ObjCBool = false
            if let actual, FileManager.default.fileExists(atPath: actual, isDirectory: &isDirectory), isDirectory.boolValue {
                why = "it is a directory"
            } else if let posix = e.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
                why = String(cString: strerror(Int32(posix.code)))
            } else {
                why = e.localizedDescription
            }
        }
        return "cannot read \(path): \(why)"
    }

    private static func typeName(_ t: Any.Type) -> String {
        switch t {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type, is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        default:
            let n = String(describing: t)
            return n.hasPrefix("Array") ? "a list" : n.hasPrefix("Dictionary") ? "an object" : "a \(n)"
        }
    }
}

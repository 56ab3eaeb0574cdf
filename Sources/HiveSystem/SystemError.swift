#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: the call's name and errno, with the system's message, so a log line or an error a user
/// reads says which call failed and why (`bind failed: Address already in use (errno 98)`).
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public let call: String
    public let errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// The system's words for `errno` alone (`Connection refused`).
    public var reason: String { String(cString: strerror(errno)) }

    public var description: String { "\(call) failed: \(reason) (errno \(errno))" }
}

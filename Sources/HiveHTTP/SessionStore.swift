import HiveSystem

/// Browser sessions: after a login, the browser holds only a random session id in an `HttpOnly` cookie (so the
/// credential never sits in a URL, in page script or in history), and each session has its own CSRF token that
/// the page must echo in a header on every change. Bounded: at most `limits.maxSessions` live at once (a login
/// past it ends the session closest to expiry, which is the oldest) and each lasts `limits.lifetimeMillis` from
/// its login, whatever its use.
///
/// `Owner` is whatever the server needs to remember about who logged in (the principal).
public final class SessionStore<Owner: Sendable>: @unchecked Sendable {
    public struct Limits: Sendable, Equatable {
        public var maxSessions = 256
        public var lifetimeMillis: UInt64 = 12 * 3_600_000
        public init(maxSessions: Int = 256, lifetimeMillis: UInt64 = 12 * 3_600_000) {
            self.maxSessions = maxSessions
            self.lifetimeMillis = lifetimeMillis
        }
    }

    /// One logged-in browser.
    public struct Session: Sendable {
        public let id: String
        /// Must come back in the CSRF header with every change this session makes.
        public let csrfToken: String
        public let owner: Owner
        /// Monotonic milliseconds after which the session is gone.
        public let expiresAt: UInt64
    }

    public let limits: Limits
    private let lock = PosixLock()
    private var sessions: [String: Session] = [:]

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// A new session for `owner`; also returns the session it ended to make room, if any.
    public func open(for owner: Owner, now: UInt64) -> (session: Session, evicted: Session?) {
        let session = Session(id: Self.randomToken(), csrfToken: Self.randomToken(), owner: owner,
                              expiresAt: now.addingReportingOverflow(limits.lifetimeMillis).overflow ? .max : now + limits.lifetimeMillis)
        return lock.withLock {
            sessions = sessions.filter { $0.value.expiresAt > now }
            var evicted: Session?
            while sessions.count >= Swift.max(limits.maxSessions, 1), let oldest = sessions.values.min(by: { $0.expiresAt < $1.expiresAt }) {
                sessions[oldest.id] = nil
                evicted = oldest
            }
            sessions[session.id] = session
            return (session, evicted)
        }
    }

    /// The live session with this id (nil when unknown or expired; an expired one is forgotten).
    public func session(_ id: String, now: UInt64) -> Session? {
        lock.withLock {
            guard let s = sessions[id] else { return nil }
            if s.expiresAt <= now {
                sessions[id] = nil
                return nil
            }
            return s
        }
    }

    /// Ends a session (logout).
    public func close(_ id: String) { lock.withLock { sessions[id] = nil } }

    public var count: Int { lock.withLock { sessions.count } }

    /// 32 random bytes from the system's CSPRNG, as 64 hex digits.
    public static func randomToken() -> String { RandomToken.hex(bytes: 32) }
}

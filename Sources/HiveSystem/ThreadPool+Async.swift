extension ThreadPool {
    /// The one home for synchronous work an async caller must not run on Swift's cooperative pool (as many
    /// threads as cores: two here). Tokenizing a long prompt or compiling a grammar holds a thread for as long as
    /// it takes, and while every pool thread is held nothing else async runs: results, replies and heartbeats of
    /// other tasks wait. Such work runs here instead, on a thread of its own, and the caller suspends.
    public static let blocking = ThreadPool(name: "blocking")

    /// Runs `body` on a pool thread and returns (or throws) what it returned, suspending the caller meanwhile.
    /// `body` runs to its end even if the calling task is cancelled (synchronous work cannot be interrupted).
    public func value<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            run {
                do throws(E) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}

/// A run that passed its deadline.
public struct DeadlineError: Error, CustomStringConvertible {
    public let millis: Int
    public var description: String { "deadline of \(millis) ms passed" }
}

/// An operation raced against a time limit, the one home of that race (agent turns and tool calls, MCP requests):
/// past `millis` the operation is cancelled and `DeadlineError` thrown; when the caller is cancelled first, the
/// operation is cancelled and `CancellationError` (or the operation's own error, whichever ends first) thrown.
/// Nothing is left running when this returns.
public enum Deadline {
    public static func run<T: Sendable>(millis: Int, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let millis = min(max(1, millis), 7 * 24 * 3_600_000)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                do { try await Task.sleep(for: .milliseconds(millis)) } catch { throw CancellationError() }
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let value = next { return value }
                throw DeadlineError(millis: millis)
            }
            throw DeadlineError(millis: millis)
        }
    }
}

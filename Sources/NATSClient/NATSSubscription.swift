import Synchronization

/// A subscription's receiving side, shared by the reader thread (which delivers) and the API (which may set
/// a max or cancel).
final class SubscriptionState: Sendable {
    let sid: UInt64
    let subject: String
    let queueGroup: String?
    /// The shared request inbox (responses are routed to waiting requests, not yielded).
    let isInbox: Bool
    let queue: MessageQueue
    let delivered = Atomic<Int>(0)
    /// Auto-unsubscribe after this many messages; 0 means never.
    let maxMessages = Atomic<Int>(0)
    let dropped = Atomic<Int>(0)

    /// Messages of the current read, not yet pushed to `queue` (reader thread only).
    nonisolated(unsafe) var staged: [NATSMessage] = []
    /// The max was reached in the current read: finish the queue after pushing (reader thread only).
    nonisolated(unsafe) var finishAfterPush = false

    init(sid: UInt64, subject: String, queue: String?, isInbox: Bool, bufferLimit: Int) {
        self.sid = sid
        self.subject = subject
        self.queueGroup = queue
        self.isInbox = isInbox
        self.queue = MessageQueue(limit: bufferLimit)
    }

    /// The SUB line (and UNSUB for what is left of a max) to (re)establish this subscription.
    func subscribeProtocol() -> String {
        var s = "SUB \(subject)\(queueGroup.map { " \($0)" } ?? "") \(sid)\r\n"
        if let remaining = remainingMessages { s += "UNSUB \(sid) \(remaining)\r\n" }
        return s
    }

    /// How many more messages the server should deliver, when a max is set. The server counts per connection
    /// from zero, so after a reconnect it is told only what is left.
    var remainingMessages: Int? {
        let max = maxMessages.load(ordering: .relaxed)
        guard max > 0 else { return nil }
        return Swift.max(max - delivered.load(ordering: .relaxed), 1)
    }
}

/// Messages on a subject, as an `AsyncSequence`. Ends when unsubscribed (including after a max), drained or
/// closed.
///
/// Dropping the last reference to a subscription unsubscribes it.
public final class NATSSubscription: AsyncSequence, Sendable {
    public typealias Element = NATSMessage
    public let subject: String
    public let queue: String?
    let state: SubscriptionState
    private let core: ClientCore

    init(state: SubscriptionState, core: ClientCore) {
        self.subject = state.subject
        self.queue = state.queueGroup
        self.state = state
        self.core = core
    }

    deinit { core.forget(state) }

    public func makeAsyncIterator() -> NATSMessageIterator { NATSMessageIterator(queue: state.queue, owner: self) }

    /// Stops the subscription now, or after `after` more messages in total have been delivered.
    public func unsubscribe(after: Int? = nil) throws(NATSClientError) {
        try core.unsubscribe(state, after: after)
    }

    /// Messages delivered to this subscription so far.
    public var deliveredCount: Int { state.delivered.load(ordering: .relaxed) }

    /// Messages dropped because the consumer fell `subscriptionBufferLimit` behind.
    public var droppedCount: Int { state.dropped.load(ordering: .relaxed) }
}

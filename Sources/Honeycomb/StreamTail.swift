import JetStream

/// Reads a journal stream in order from where its replay stands, a window of messages at a time, and applies
/// each window to the replay before reading the next (no more than a window of raw messages is held). A standby
/// tails the stream with it while it waits for the leader lease (`follow`); `open` reads the rest at takeover, or
/// the whole stream at a cold start.
final class StreamTail: @unchecked Sendable {
    let js: JetStreamAPI
    let stream: String
    let replay: StreamReplay
    /// Messages read (and applied) so far.
    private(set) var messagesRead = 0
    /// Messages read per window, in parallel.
    let window: UInt64
    // Used by one task at a time: the follower, then `open` once the follower ended.

    init(js: JetStreamAPI, replay: StreamReplay, window: UInt64 = 64) {
        self.js = js
        self.stream = replay.settings.stream
        self.replay = replay
        self.window = max(1, window)
    }

    /// Reads and applies what is new up to `last`; below `first` the stream purged it (a compaction's snapshot,
    /// read after it, covers it). A failed read leaves the replay where the last whole window left it.
    func read(first: UInt64, last: UInt64) async throws {
        let last = min(last, UInt64.max - 1)  // a sequence from the network: `next` must be able to pass it
        replay.skip(to: first)
        while replay.next <= last {
            let from = replay.next
            let end = min(last, from &+ (window &- 1))
            let block = try await Self.messages(js, stream, from...end)
            for m in block { replay.apply(m) }
            replay.skip(to: end &+ 1)
            messagesRead += block.count
        }
    }

    /// One step of tailing: reads to the stream's current end; a failure waits for the next step.
    func catchUp() async {
        guard let info = try? await js.streamInfo(stream) else { return }
        try? await read(first: info.state.firstSeq, last: info.state.lastSeq)
    }

    /// Tails until cancelled: a catch-up every `period` seconds (one under way when cancelled is finished).
    func follow(every period: Double) async {
        while !Task.isCancelled {
            await catchUp()
            try? await Task.sleep(for: .milliseconds(Int64(max(period, 0.01) * 1000)))  // the tail's poll period, not a synchronization
        }
    }

    /// The messages stored at `seqs`, in order, read in parallel (purged ones are absent).
    static func messages(_ js: JetStreamAPI, _ stream: String, _ seqs: ClosedRange<UInt64>) async throws -> [StoredMessage] {
        try await withThrowingTaskGroup(of: StoredMessage?.self) { group in
            for seq in seqs where seq > 0 { group.addTask { try await js.message(stream, seq: seq) } }
            var got: [StoredMessage] = []
            for try await m in group { if let m { got.append(m) } }
            return got.sorted { $0.seq < $1.seq }
        }
    }
}

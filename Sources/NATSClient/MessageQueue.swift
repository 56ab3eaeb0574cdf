import HiveSystem
import NATSWire

/// A subscription's inbound queue, handing messages over in batches.
///
/// The reader thread stages the messages of one read and pushes them under a single lock, waking the consumer
/// at most once per read; the consumer's iterator takes everything queued in one swap and then iterates its
/// local batch without locking. Compared with yielding into an `AsyncStream` per message, this removes a
/// lock round and (when the consumer keeps up) a task wake-up per message.
final class MessageQueue: @unchecked Sendable {
    private let lock = PosixLock()
    // Guarded by `lock`.
    private var queued: [NATSMessage] = []
    private var waiter: CheckedContinuation<[NATSMessage], Never>?
    private var finished = false
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Appends `batch` (emptying it), keeping at most `limit` queued. Returns how many were dropped.
    func push(_ batch: inout [NATSMessage]) -> Int {
        var dropped = 0
        let resume: (CheckedContinuation<[NATSMessage], Never>, [NATSMessage])? = lock.withLock {
            if finished {
                batch.removeAll(keepingCapacity: true)
                return nil
            }
            let room = max(0, limit - queued.count)
            if batch.count > room {
                dropped = batch.count - room
                batch.removeLast(dropped)
            }
            if let w = waiter {
                waiter = nil
                let handed = batch
                batch.removeAll(keepingCapacity: true)
                return (w, handed)
            }
            queued.append(contentsOf: batch)
            batch.removeAll(keepingCapacity: true)
            return nil
        }
        if let (w, handed) = resume { w.resume(returning: handed) }
        return dropped
    }

    /// Ends the sequence once what is queued has been consumed.
    func finish() {
        let w: CheckedContinuation<[NATSMessage], Never>? = lock.withLock {
            finished = true
            let w = waiter
            waiter = nil
            return w
        }
        w?.resume(returning: [])
    }

    /// Everything queued, waiting if nothing is; empty when finished (or the waiting task was cancelled).
    func take() async -> [NATSMessage] {
        let ready: [NATSMessage]? = lock.withLock {
            if !queued.isEmpty {
                let out = queued
                queued = []
                return out
            }
            return finished ? [] : nil
        }
        if let ready { return ready }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<[NATSMessage], Never>) in
                let now: [NATSMessage]? = lock.withLock {
                    if !queued.isEmpty {
                        let out = queued
                        queued = []
                        return out
                    }
                    if finished || Task.isCancelled { return [] }
                    waiter = c
                    return nil
                }
                if let now { c.resume(returning: now) }
            }
        } onCancel: {
            let w: CheckedContinuation<[NATSMessage], Never>? = lock.withLock {
                let w = waiter
                waiter = nil
                return w
            }
            w?.resume(returning: [])
        }
    }

    var isFinished: Bool { lock.withLock { finished } }
}

/// Iterates a `MessageQueue` one local batch at a time.
public struct NATSMessageIterator: AsyncIteratorProtocol {
    let queue: MessageQueue
    /// Keeps the subscription alive while iterated (`for await m in try nc.subscribe(…)` holds no other reference).
    let owner: AnyObject
    var batch: [NATSMessage] = []
    var index = 0

    public mutating func next() async -> NATSMessage? {
        if index >= batch.count {
            batch = await queue.take()
            index = 0
            if batch.isEmpty { return nil }
        }
        defer { index += 1 }
        return batch[index]
    }
}

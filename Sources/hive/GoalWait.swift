#if canImport(Glibc)
import Glibc
#endif
import HiveCore
import NATSClient

/// Waiting for a goal to end (`hive submit --wait`, `hive eval`): honeycombd is asked how the goal stands (the
/// `goal` verb, then the whole `result` once it has ended) at the start, when the goal's event arrives, every
/// `pollInterval`, and again after the client reconnected.
///
/// Why not the event alone: `hive.v1.events.<goal>` is core NATS, at most once. An end published while this
/// client was away (its node died and it reconnected to another) or before its subscription reached the node
/// honeycombd publishes on is lost for good; the ask finds the end anyway, with the same result as the event would
/// have led to. An ask in flight when the client reconnected is dropped and asked again on the new connection
/// (its reply may never come); one unanswered for `askAgainAfter` gets another beside it, so an answer slower than
/// the poll (a loaded honeycombd) is still heard, and one lost with a honeycombd that died is not waited out.
/// Bounded: an unknown goal fails at once, honeycombd silent for `cli.patience` (`--answer-timeout`) fails, and so
/// does `--wait-timeout`. No honeycombd for a moment (a failover, a restart) is waited out like silence.
struct GoalWait {
    /// How often honeycombd is asked while no event comes: the longest a lost end goes unnoticed.
    static let pollInterval: Duration = .seconds(1)
    /// How long one ask may go unanswered before it counts as silence and is asked again (every other request's
    /// timeout): a honeycombd slow under load is still heard.
    static let askTimeout = 10.0
    /// An ask unanswered this long gets a second one beside it (honeycombd may have died with the first and a
    /// standby taken over), up to `maxAsksInFlight`: any of them answering is heard.
    static let askAgainAfter: Duration = .seconds(2)
    static let maxAsksInFlight = 3

    let goal: GoalID
    let cli: ControlCLI
    let nc: NATSClient

    /// What moves the wait on.
    private enum Wake: Sendable {
        case goalEvent
        case tick
        /// The answer to ask number `ask`.
        case answered(ask: Int, Result<Answer, any Error>)
    }

    /// How the goal stands: still running (with why it waits), or ended with its whole result.
    private enum Answer: Sendable {
        case running(GoalSummary)
        case ended(GoalResult)
    }

    /// Waits until the goal ends and returns its result; says why it waits (`GoalSummary.waiting`) on stderr when a
    /// reason appears. `told`: reasons already said (the submission's warning). Exits the process on the bounds.
    func result(told: Set<String> = []) async -> GoalResult {
        let (wakes, wake) = AsyncStream.makeStream(of: Wake.self)
        let events = try? nc.subscribe(APISubject.events(goal))
        let feeders = [
            Task {
                guard let events else { return }
                for await _ in events { wake.yield(.goalEvent) }
            },
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.pollInterval)
                    wake.yield(.tick)
                }
            },
        ]
        var inFlight: [Int: (task: Task<Void, Never>, reconnects: Int, sent: ContinuousClock.Instant)] = [:]
        var asks = 0
        var askAgain = false
        var reconnects = nc.reconnects
        let start = ContinuousClock.now
        var lastAnswer = ContinuousClock.now
        var told = told
        defer {
            for f in feeders { f.cancel() }
            for a in inFlight.values { a.task.cancel() }
            wake.finish()
        }
        func ask() {
            asks += 1
            let number = asks, cli = cli, nc = nc, goal = goal
            inFlight[number] = (Task {
                do { wake.yield(.answered(ask: number, .success(try await Self.ask(goal, cli: cli, nc: nc)))) } catch {
                    wake.yield(.answered(ask: number, .failure(error)))
                }
            }, nc.reconnects, .now)
            askAgain = false
        }
        ask()
        for await w in wakes {
            switch w {
            case .goalEvent:
                // An answer in flight may have been read before the end: ask again once it is in.
                if inFlight.isEmpty { ask() } else { askAgain = true }
            case .tick:
                let now = nc.reconnects
                if now != reconnects {
                    reconnects = now
                    printError("reconnected to \(nc.connectedServer ?? "the bus"); asking honeycombd how goal \(goal) stands")
                }
                // Asks sent on a connection since lost may never be answered: dropped, and asked again on this one.
                for (n, a) in inFlight where a.reconnects != now {
                    a.task.cancel()
                    inFlight[n] = nil
                }
                let newest = inFlight.values.map(\.sent).max()
                if newest == nil || (ContinuousClock.now - newest! >= Self.askAgainAfter && inFlight.count < Self.maxAsksInFlight) {
                    ask()
                }
            case .answered(let number, let outcome):
                if case .success(.ended(let result)) = outcome { return result }  // whichever ask brought it
                guard inFlight.removeValue(forKey: number) != nil else { continue }  // dropped at a reconnect
                switch outcome {
                case .success(.ended(let result)):
                    return result
                case .success(.running(let g)):
                    lastAnswer = .now
                    // Each reason once, and again only after it went away and came back (a wait for a free slot
                    // is the hive working, not news).
                    let reasons = (g.waiting ?? []).filter { $0.blocker != TaskBlocker.busy.kind }
                    for r in reasons where !told.contains(r.reason) { printError("waiting: \(r)") }
                    told = Set(reasons.map(\.reason))
                case .failure(let e as APIError):
                    fail(e.error, code: 1)
                case .failure(let e as RequestError):
                    if case .stuckPaging = e { fail("\(e)", code: 1) }
                    if case .unreadable = e { fail("\(e)", code: 1) }
                case .failure:
                    break  // cancelled
                }
                if askAgain && inFlight.isEmpty { ask() }
            }
            if let limit = cli.waitTimeout, ContinuousClock.now - start > .seconds(limit) {
                fail("\(RequestError.waitTimedOut(goal: goal, seconds: limit))", code: 75)
            }
            if ContinuousClock.now - lastAnswer > .seconds(cli.patience) {
                fail("\(RequestError.silent(seconds: cli.patience, urls: cli.urls))", code: 69)
            }
        }
        fail("the wait for goal \(goal) ended without an answer", code: 70)
    }

    /// One ask: the goal's summary, and once it has ended, its whole result. A goal summary read as ended whose result
    /// then cannot be fetched throws, and the next ask fetches it again.
    private static func ask(_ goal: GoalID, cli: ControlCLI, nc: NATSClient) async throws -> Answer {
        let g = try await cli.call(nc, APISubject.goal, GoalRef(goal: goal), as: GoalSummary.self, timeout: askTimeout,
                                   orNoResponders: true)
        guard g.state.isFinal else { return .running(g) }
        return .ended(try await cli.result(nc, goal, timeout: askTimeout))
    }
}

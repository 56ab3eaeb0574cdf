#if canImport(Glibc)
import Glibc
#endif
@testable import Drone
@testable import HiveProcess
import Foundation
import HiveCore
import HiveSystem
import NATSWire
import Testing

/// A task's outcome comes at its deadline, but its slot is free only when the backend has stopped; a killed drone's
/// exec groups are swept by its successor.
@Suite struct TaskRunTests {
    /// A backend that stops only a while after it is told to (a wasm thread between checkpoints), and says when.
    final class Lingering: Backend, @unchecked Sendable {
        var kind: String { "linger" }
        var capabilities: [String] { [] }
        private let lock = PosixLock()
        private var returned = false
        var hasReturned: Bool { lock.withLock { returned } }

        func run(_ task: Assignment) async -> BackendOutcome {
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
            // Told to stop: keeps going for 800 ms more (not a synchronisation: the behaviour under test).
            let until = ContinuousClock.now + .milliseconds(800)
            while ContinuousClock.now < until { usleep(5_000) }
            lock.withLock { returned = true }
            return .failure("stopped late")
        }
    }

    @Test func theOutcomeComesAtTheDeadlineAndTheEndOnlyWhenTheBackendStops() async {
        let backend = Lingering()
        let a = Assignment(task: "g1.1", goal: "g1", attempt: 1, token: "t", kind: "linger", input: nil, index: 0, timeoutMillis: 100)
        let start = ContinuousClock.now
        let run = TaskRun(backend, a, graceMillis: 100)
        let o = await run.result
        let reported = ContinuousClock.now - start
        #expect(o.error == "timed out after 100 ms (stopped by the drone)")
        #expect(reported < .milliseconds(700), "reported at \(reported)")
        #expect(!backend.hasReturned, "the outcome does not wait for the backend")
        await run.ended()
        #expect(backend.hasReturned, "ended means the backend's run has returned")
    }

    @Test func aCancelledRunEndsWhenItsBackendDoes() async {
        let backend = Lingering()
        let a = Assignment(task: "g1.1", goal: "g1", attempt: 1, token: "t", kind: "linger", input: nil, index: 0, timeoutMillis: 60_000)
        let run = TaskRun(backend, a, graceMillis: 0)
        run.cancel()
        await run.ended()
        #expect(backend.hasReturned)
        #expect(await run.result.error == "stopped late")
    }

    @Test func aRecordOfALiveDroneIsNotSwept() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hive-pgids-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let record = try #require(ProcessGroupRecord(drone: "d1", environment: ["XDG_RUNTIME_DIR": dir]))
        #expect(record.path == "\(dir)/hive-drone/d1.pgids")
        // Our own process group as a "task" group, recorded by a drone that is still running (this process, seen from
        // another pid's point of view): nothing may be killed.
        let me = try #require(ProcStat(getpid()))
        record.write([getpgrp(): me.startTime])
        let text = try String(contentsOfFile: record.path, encoding: .utf8)
        #expect(text.hasPrefix("drone \(getpid()) \(me.startTime) "))
        let owner = text.replacingOccurrences(of: "drone \(getpid()) ", with: "drone \(getppid()) ")
        // The parent is alive with another start time than ours: a record of a live drone only if the times match.
        let parent = try #require(ProcStat(getppid()))
        try owner.replacingOccurrences(of: " \(me.startTime) ", with: " \(parent.startTime) ")
            .write(toFile: record.path, atomically: true, encoding: .utf8)
        #expect(record.killLeftovers() == nil, "in use: not swept, not taken over")
    }

    @Test func aRecordDirectoryOfAnotherOwnerOrASymlinkIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hive-pgids-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect(symlink("/tmp", "\(dir)/hive-drone") == 0)
        #expect(ProcessGroupRecord(drone: "d1", environment: ["XDG_RUNTIME_DIR": dir]) == nil)
    }
}

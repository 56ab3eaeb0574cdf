#if canImport(Glibc)
import Glibc
#endif
import CSpawn
@testable import Drone
import Foundation
import HiveCore
import Testing

/// An exec task's processes live and die as one group, under the drone's rlimits and environment policy, and the
/// drone's exec keeps working whatever a task did.
@Suite struct ExecContainmentTests {
    func task(_ command: String, _ args: [String], env: [String: String]? = nil, timeout: Int = 5_000) -> Assignment {
        Assignment(task: "g1.1", goal: "g1", attempt: 1, token: "t", kind: "exec",
                   input: TaskInput(command: command, args: args, env: env), index: 0, timeoutMillis: timeout)
    }

    /// Whether `pid` is gone (or a zombie awaiting its reaper, which holds nothing).
    static func gone(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
    }

    static func eventually(within seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    @Test func aTimeoutKillsTheGrandchildrenToo() async {
        let b = ExecBackend(allowed: ["/bin/sh"])
        let start = ContinuousClock.now
        // The shell starts a grandchild and waits for it: killing only the shell would leave sleep holding the slot.
        let r = await b.run(task("/bin/sh", ["-c", "/bin/sleep 15 & echo $!; wait"], timeout: 500))
        #expect(!r.succeeded && r.error == "timed out after 500 ms")
        #expect(ContinuousClock.now - start < .seconds(3))
        let grandchild = Int32(r.output?.split(separator: "\n").first ?? "") ?? 0
        #expect(grandchild > 0)
        #expect(Self.eventually(within: 5) { Self.gone(grandchild) }, "the sleep the task started is killed with it")
        #expect(ExecBackend.runningProcessGroups == 0)
    }

    @Test func whatATaskLeavesInTheBackgroundEndsWithIt() async {
        let b = ExecBackend(allowed: ["/bin/sh"])
        let start = ContinuousClock.now
        let r = await b.run(task("/bin/sh", ["-c", "/bin/sleep 15 & echo $!"], timeout: 20_000))
        #expect(r.succeeded && r.exitCode == 0)
        #expect(ContinuousClock.now - start < .seconds(5), "the result does not wait for the background sleep")
        let pid = Int32(r.output?.split(separator: "\n").first ?? "") ?? 0
        #expect(pid > 0 && Self.eventually(within: 5) { Self.gone(pid) })
    }

    @Test func withoutAnExitDescriptorRunsStillEndPromptlyAndTakeTheirGroupAlong() async {
        func run(_ script: String, timeout: Int) async -> BackendOutcome {
            let r = ExecRun(command: "/bin/sh", args: ["-c", script], stdin: Array("in\n".utf8), env: [:], timeoutMillis: timeout,
                            outputCap: 1_000, limits: ExecLimits())
            r.exitThroughFD = false
            return await r.start()
        }
        let start = ContinuousClock.now
        let quick = await run("read x; echo $x", timeout: 5_000)
        #expect(quick.succeeded && quick.output == "in\n")
        let background = await run("/bin/sleep 15 & echo $!", timeout: 5_000)
        #expect(background.succeeded)
        let timedOut = await run("/bin/sleep 15 & echo $!; wait", timeout: 300)
        #expect(timedOut.error == "timed out after 300 ms")
        #expect(ContinuousClock.now - start < .seconds(4))
        for r in [background, timedOut] {
            let pid = Int32(r.output?.split(separator: "\n").first ?? "") ?? 0
            #expect(pid > 0 && Self.eventually(within: 5) { Self.gone(pid) })
        }
    }

    @Test func loaderAndShellVariablesFromTheTaskAreRefusedUnlessAllowed() async {
        let b = ExecBackend(allowed: ["/usr/bin/env"])
        let refused = await b.run(task("/usr/bin/env", [], env: ["LD_PRELOAD": "/tmp/evil.so"]))
        #expect(!refused.succeeded)
        #expect(refused.error?.contains("environment variable LD_PRELOAD is not allowed on this drone") == true)
        #expect(refused.error?.contains("--exec-env-allow") == true)
        let hive = await b.run(task("/usr/bin/env", [], env: ["HIVE_CANDIDATE": "3"]))
        #expect(hive.succeeded && hive.output?.contains("HIVE_CANDIDATE=3\n") == true)
        #expect(hive.output?.contains("PATH=/usr/local/bin:/usr/bin:/bin\n") == true)
        let custom = ExecBackend(allowed: ["/usr/bin/env"], environment: ExecEnvironmentPolicy(allowed: ["APP_*", "MODE"]))
        let ok = await custom.run(task("/usr/bin/env", [], env: ["APP_X": "1", "MODE": "fast"]))
        #expect(ok.succeeded && ok.output?.contains("APP_X=1\n") == true && ok.output?.contains("MODE=fast\n") == true)
        let path = await custom.run(task("/usr/bin/env", [], env: ["PATH": "/tmp"]))
        #expect(!path.succeeded && path.error?.contains("PATH") == true)
        let bad = await custom.run(task("/usr/bin/env", [], env: ["APP_A=B": "1"]))
        #expect(!bad.succeeded && bad.error?.contains("names need no '='") == true)
    }

    @Test func childrenRunUnderTheDronesRlimitsWithCoreDumpsOff() async {
        var limits = ExecLimits()
        limits.maxOpenFiles = 100
        limits.maxFileSizeMB = 1
        let b = ExecBackend(allowed: ["/bin/sh"], limits: limits)
        let r = await b.run(task("/bin/sh", ["-c", "ulimit -n; ulimit -c; ulimit -f"]))
        #expect(r.succeeded)
        // dash reports the file size limit in 512-byte blocks: 1 MiB is 2048.
        #expect(r.output == "100\n0\n2048\n")
        let big = await b.run(task("/bin/sh", ["-c", "head -c 2000000 /dev/zero > big; echo $?"]))
        #expect(big.output?.hasSuffix("153\n") == true, "SIGXFSZ (128 + 25) past --exec-max-file-size-mb: \(big.output ?? "")")
    }

    @Test func aProgramThatCannotStartIsAFailedResultWithTheReason() async {
        let b = ExecBackend(allowed: ["/nonexistent/tool"])
        let start = ContinuousClock.now
        let r = await b.run(task("/nonexistent/tool", []))
        #expect(!r.succeeded)
        #expect(r.error == "cannot start /nonexistent/tool: No such file or directory")
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test func withNoDescriptorsLeftExecFailsWithTheReasonAndWorksAgainAfterwards() async {
        let b = ExecBackend(allowed: ["/bin/sh"])
        var saved = rlimit()
        getrlimit(__rlimit_resource_t(UInt32(HIVE_RLIMIT_NOFILE)), &saved)
        var low = saved
        low.rlim_cur = rlim_t(Self.openDescriptors() + 40)
        setrlimit(__rlimit_resource_t(UInt32(HIVE_RLIMIT_NOFILE)), &low)
        var hoard: [Int32] = []
        while true {
            let fd = dup(2)
            if fd < 0 { break }
            hoard.append(fd)
        }
        let starved = await b.run(task("/bin/sh", ["-c", "echo hi"]))
        for fd in hoard { close(fd) }
        setrlimit(__rlimit_resource_t(UInt32(HIVE_RLIMIT_NOFILE)), &saved)
        #expect(!starved.succeeded)
        #expect(starved.error?.contains("Too many open files") == true, "\(starved.error ?? "")")
        let r = await b.run(task("/bin/sh", ["-c", "echo hi"], timeout: 5_000))
        #expect(r.succeeded && r.output == "hi\n")
    }

    static func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }

    @Test func theDroneStopsABackendThatOutlivesItsTimeout() async {
        struct Stubborn: Backend {
            var kind: String { "stubborn" }
            var capabilities: [String] { [] }
            func run(_ task: Assignment) async -> BackendOutcome {
                // Ignores its timeout; honours cancellation only.
                while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
                return .failure("cancelled")
            }
        }
        var a = task("/bin/true", [], timeout: 100)
        a.kind = "stubborn"
        let start = ContinuousClock.now
        let r = await DroneRuntime.run(Stubborn(), a, graceMillis: 100)
        #expect(r.error == "timed out after 100 ms (stopped by the drone)")
        #expect(ContinuousClock.now - start < .seconds(3))
    }
}

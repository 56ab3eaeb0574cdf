import Drone
import HiveCore
import Testing

@Suite struct ExecBackendTests {
    func task(_ command: String, _ args: [String], stdin: String? = nil, timeout: Int = 5_000) -> Assignment {
        Assignment(task: "g1.3", goal: "g1", attempt: 1, token: "t", kind: "exec",
                   input: TaskInput(command: command, args: args, stdin: stdin), index: 3, timeoutMillis: timeout)
    }

    @Test func runsWithTaskEnvironmentStdinAndExitCode() async {
        let b = ExecBackend(allowed: ["/bin/sh"])
        let ok = await b.run(task("/bin/sh", ["-c", "read x; echo \"$x idx=$HIVE_TASK_INDEX id=$HIVE_TASK_ID\"; pwd"], stdin: "hello\n"))
        #expect(ok.succeeded && ok.exitCode == 0)
        let lines = ok.output?.split(separator: "\n") ?? []
        #expect(lines.first == "hello idx=3 id=g1.3")
        #expect(lines.last?.contains("hive-exec-") == true, "runs in its own scratch directory")
        let bad = await b.run(task("/bin/sh", ["-c", "echo oops >&2; exit 7"]))
        #expect(!bad.succeeded && bad.exitCode == 7 && bad.output == "oops\n")
    }

    @Test func aChildThatIgnoresALargeStdinDoesNotCrashTheDrone() async {
        // Once crashed the drone: the write hit EPIPE after the child exited without reading.
        let b = ExecBackend(allowed: ["/bin/sh"])
        let big = String(repeating: "x", count: 1 << 20)
        for _ in 0..<3 {
            let r = await b.run(task("/bin/sh", ["-c", "echo done"], stdin: big))
            #expect(r.succeeded && r.output == "done\n")
        }
    }

    @Test func aChildThatEchoesALargeStdinWhileReadingItDoesNotDeadlock() async {
        let b = ExecBackend(allowed: ["/bin/sh"], outputCap: 1 << 20)
        let big = String(repeating: "0123456789abcdef", count: 1 << 14)  // 256 KiB, four pipe buffers
        let r = await b.run(task("/bin/sh", ["-c", "cat; echo"], stdin: big))
        #expect(r.succeeded && r.output?.count == big.count + 1)
    }

    /// Programs for each eval family: a correct one and a plausible bug.
    static let programs: [String: (right: String, wrong: String)] = [
        "sum-range": ("read a b; echo $(( (a + b) * (b - a + 1) / 2 ))", "read a b; echo $(( (a + b) * (b - a) / 2 ))"),
        "gcd": ("read a b; while [ \"$b\" -ne 0 ]; do t=$((a % b)); a=$b; b=$t; done; echo $a", "read a b; echo $(( a % b ))"),
        "max": ("```sh\nread a b c d e; m=$a; for x in $b $c $d $e; do [ \"$x\" -gt \"$m\" ] && m=$x; done; echo $m\n```", "read a b c d e; echo $a"),
        "digits": ("read a; echo ${#a}", "read a; echo $(( ${#a} + 1 ))"),
    ]

    @Test func evalCodeChecksPassRightProgramsAndFailBuggyOnes() async {
        let b = ExecBackend(allowed: ["/bin/sh"])
        for t in EvalSuite.code.tasks(count: 12, seed: 5) {
            let p = Self.programs[t.family!]!
            var right = task("/bin/sh", ["-c", t.verifyScript!], stdin: p.right)
            right.timeoutMillis = 30_000
            let ok = await b.run(right)
            #expect(ok.succeeded && ok.output == "pass\n", "\(t.family!): \(ok.output ?? "")")
            let bad = await b.run(task("/bin/sh", ["-c", t.verifyScript!], stdin: p.wrong, timeout: 30_000))
            #expect(!bad.succeeded && bad.exitCode == 1 && bad.output?.contains("expected") == true, "\(t.family!)")
        }
    }

    @Test func refusesCommandsOffTheAllowList() async {
        let b = ExecBackend(allowed: ["/bin/echo"])
        let r = await b.run(task("/bin/sh", ["-c", "true"]))
        #expect(!r.succeeded)
        #expect(r.error?.contains("not on this drone's allow-list") == true)
        let relative = await b.run(task("echo", ["x"]))
        #expect(!relative.succeeded)
    }

    @Test func aliasesOfAnAllowedProgramAreAllowedAndAdvertised() async {
        let b = ExecBackend(allowed: ["/bin/sh"])
        #expect(b.capabilities.contains("exec:/bin/sh"))
        if b.capabilities.contains("exec:/usr/bin/sh") {
            #expect(await b.run(task("/usr/bin/sh", ["-c", "exit 0"])).succeeded)
        }
    }

    @Test func timeoutKillsTheProcess() async {
        let b = ExecBackend(allowed: ["/bin/sleep"])
        let start = ContinuousClock.now
        let r = await b.run(task("/bin/sleep", ["10"], timeout: 200))
        #expect(!r.succeeded)
        #expect(r.error == "timed out after 200 ms")
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test func outputIsCapped() async {
        let b = ExecBackend(allowed: ["/bin/sh"], outputCap: 1000)
        let r = await b.run(task("/bin/sh", ["-c", "head -c 100000 /dev/zero | tr '\\0' x"]))
        #expect(r.succeeded)
        #expect(r.output?.utf8.count == 1000)
    }

    @Test func cancellationKillsTheProcess() async {
        let b = ExecBackend(allowed: ["/bin/sleep"])
        let work = Task { await b.run(task("/bin/sleep", ["10"])) }
        try? await Task.sleep(for: .milliseconds(100))
        work.cancel()
        let r = await work.value
        #expect(!r.succeeded && r.error == "cancelled")
    }
}

@Suite struct WasmBackendTests {
    @Test func aModuleWhoseBytesDoNotMatchItsHashIsNotRun() async throws {
        let source = ModuleSource()
        let real: [UInt8] = [0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00]
        source.connect { _ in real + [0x00, 0x01, 0x00] }  // a tampered copy: one extra custom section byte run
        let b = WasmBackend(source: source)
        let hash = SHA256.hex(real)
        let r = await b.run(Assignment(task: "g1.1", goal: "g1", attempt: 1, token: "t", kind: "wasm",
                                       input: TaskInput(module: hash), index: 0, timeoutMillis: 5_000))
        #expect(!r.succeeded)
        #expect(r.error?.contains("failed verification") == true)
    }
}

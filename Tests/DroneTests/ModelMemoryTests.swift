@testable import Drone
import Testing

/// A model that cannot fit is refused before llama.cpp maps it, naming the flag, the size and the tightest limit.
@Suite struct ModelMemoryTests {
    @Test func theTightestLimitDecidesAndIsNamed() {
        let m = ModelMemory(limits: [
            .init(available: 8 << 30, source: "MemAvailable in /proc/meminfo"),
            .init(available: 200 << 20, source: "RLIMIT_AS 1024 MiB, 824 MiB already mapped"),
        ])
        #expect(m.problem(path: "/m/gemma.gguf", bytes: 199 << 20) == nil)
        #expect(m.problem(path: "/m/gemma.gguf", bytes: 241 << 20)
            == "--model /m/gemma.gguf is 241 MiB, but only 200 MiB of memory is available (RLIMIT_AS 1024 MiB, 824 MiB already mapped); "
            + "free memory, raise the limit or use a smaller model")
        #expect(ModelMemory(limits: []).problem(path: "m", bytes: 1 << 50) == nil, "nothing known: llama.cpp decides")
    }

    @Test func thisMachineReportsWhatItHas() {
        let limits = ModelMemory.current().limits
        let meminfo = limits.first { $0.source == "MemAvailable in /proc/meminfo" }
        #expect(meminfo != nil && meminfo!.available > 1 << 20)
        // A model larger than any memory this machine has is refused.
        #expect(ModelMemory.current().problem(path: "m", bytes: 1 << 50)?.hasPrefix("--model m is 1073741824 MiB, but only") == true)
        #expect(ModelMemory.fileSize("/proc/self/status") != nil && ModelMemory.fileSize("/nonexistent") == nil)
        #expect(ModelMemory.fileSize("/tmp") == nil, "a directory is left to the loader to refuse")
    }
}

extension ModelMemoryTests {
    @Test func procFieldsAreReadWhateverTheirPadding() {
        #expect(ModelMemory.field("MemTotal:       24684840 kB\nMemAvailable:   22954404 kB\n", "MemAvailable:") == 22_954_404)
        #expect(ModelMemory.field("Name:\tdrone\nVmSize:\t  2539416 kB\n", "VmSize:") == 2_539_416)
        #expect(ModelMemory.field("VmRSS:\t1 kB\n", "VmSize:") == nil)
    }
}

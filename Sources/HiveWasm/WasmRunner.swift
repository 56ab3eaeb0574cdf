/// What running a WASI module produced: its output, and how it ended (exit status, or the trap).
public struct WasmRunResult: Sendable, Equatable {
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    /// `proc_exit`'s status, or 0 when `_start` returned; nil when it trapped.
    public var exitCode: Int32?
    public var trap: Trap?
    public var fuelUsed: Int64
    public var truncated: Bool
}

/// Runs a WASI command module (`_start`) with arguments, environment and stdin, under `limits`.
public enum WasmRunner {
    /// Decoding, validation and instantiation failures throw (the module is refused); traps while running are a
    /// result, never a crash.
    public static func run(_ bytes: [UInt8], args: [String] = ["module"], environment: [(String, String)] = [],
                           stdin: [UInt8] = [], limits: WasmLimits = WasmLimits(), outputCap: Int = 1 << 20,
                           deterministicSeed: UInt64? = nil, scratchDirectory: String? = nil) throws -> WasmRunResult {
        try run(try CompiledModule(bytes: bytes), args: args, environment: environment, stdin: stdin, limits: limits,
                outputCap: outputCap, deterministicSeed: deterministicSeed, scratchDirectory: scratchDirectory)
    }

    /// The same for a module compiled once and run many times.
    public static func run(_ compiled: CompiledModule, args: [String] = ["module"], environment: [(String, String)] = [],
                           stdin: [UInt8] = [], limits: WasmLimits = WasmLimits(), outputCap: Int = 1 << 20,
                           deterministicSeed: UInt64? = nil, scratchDirectory: String? = nil) throws -> WasmRunResult {
        let wasi = WASI(args: args, environment: environment, stdin: stdin, outputCap: outputCap, deterministicSeed: deterministicSeed,
                        scratchDirectory: scratchDirectory, scratchWriteCap: limits.maxScratchBytes, maxOpenFiles: limits.maxOpenFiles)
        // Every file the module opened is closed when the run ends, however it ends.
        defer { wasi.closeFiles() }
        let instance = try Instance(compiled: compiled, imports: wasi.imports, limits: limits)
        var exitCode: Int32? = 0
        var trap: Trap?
        guard let start = instance.exportedFunction("_start") else { throw Trap.host("the module exports no _start function") }
        do throws(Trap) {
            _ = try instance.invoke(start, [])
        } catch .exit(let code) {
            exitCode = code
        } catch {
            exitCode = nil
            trap = error
        }
        return WasmRunResult(stdout: wasi.stdout, stderr: wasi.stderr, exitCode: exitCode, trap: trap,
                             fuelUsed: instance.fuelUsed, truncated: wasi.truncated)
    }
}

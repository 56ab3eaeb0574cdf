import Foundation
import HiveCommandLine
import HiveWasm

/// `hive wasm run FILE.wasm [--fuel N] [--memory MiB] [--timeout-ms MS] [--seed N] [--invoke NAME] [-- ARGS…]`:
/// runs a WASI module here, under the same interpreter and limits a drone uses, with this process's stdin; prints
/// its stdout and stderr and exits with its exit status (or 125 with the trap). `--invoke` calls an exported
/// function without arguments instead of `_start` and prints its results. For trying a module before sending it.
func wasmCommand(_ p: ParsedArguments) {
    let invoke = p.string("--invoke")
    let path = p.positionals[0]
    var limits = WasmLimits()
    if let fuel = p.orExit({ try $0.integer("--fuel", in: 0...Int64.max, as: Int64.self) }) { limits.fuel = fuel }
    // MiB to 64 KiB pages: 0 to 4096 MiB (a 32-bit memory's 4 GiB).
    if let mib = p.orExit({ try $0.integer("--memory", in: 0...4096, as: UInt32.self) }) { limits.maxMemoryPages = mib * 16 }
    let seed = p.orExit { try $0.integer("--seed", as: UInt64.self) }
    if let ms = p.int("--timeout-ms", in: 0...Int.max) { limits.timeoutMillis = ms }
    let moduleArgs = [URL(fileURLWithPath: path).lastPathComponent] + p.positionals.dropFirst()
    let data = readFileOrExit(path, what: "module")
    if let invoke {
        do {
            let instance = try Instance(module: try ModuleDecoder.decode(Array(data)), imports: [:], limits: limits)
            print(try instance.call(invoke).map { String($0) }.joined(separator: " "))
            exit(0)
        } catch let t as Trap {
            fail("\(path) trapped: \(t)", code: 125)
        } catch {
            fail("\(path): \(ErrorSentence.of(error))", code: 65)
        }
    }
    let stdin = FileHandle.standardInput.readDataToEndOfFile()
    let result: WasmRunResult
    do {
        result = try WasmRunner.run(Array(data), args: moduleArgs, stdin: Array(stdin), limits: limits, deterministicSeed: seed)
    } catch {
        fail("\(path): \(ErrorSentence.of(error))", code: 65)
    }
    FileHandle.standardOutput.write(Data(result.stdout))
    FileHandle.standardError.write(Data(result.stderr))
    if let trap = result.trap {
        FileHandle.standardError.write(Data("hive: \(path) trapped: \(trap) (after \(result.fuelUsed) instructions)\n".utf8))
        exit(125)
    }
    exit(result.exitCode ?? 125)
}

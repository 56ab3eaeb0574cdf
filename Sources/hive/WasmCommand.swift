import Foundation
import HiveWasm

/// `hive wasm run FILE.wasm [--fuel N] [--memory MiB] [--timeout-ms MS] [--seed N] [--invoke NAME] [-- ARGS…]`:
/// runs a WASI module here, under the same interpreter and limits a drone uses, with this process's stdin; prints
/// its stdout and stderr and exits with its exit status (or 125 with the trap). `--invoke` calls an exported
/// function without arguments instead of `_start` and prints its results. For trying a module before sending it.
func wasmCommand(_ args: [String]) {
    guard args.first == "run", args.count >= 2 else {
        fail("usage: hive wasm run FILE.wasm [--fuel N] [--memory MiB] [--timeout-ms MS] [--seed N] [--invoke NAME] [-- ARGS…]")
    }
    var invoke: String?
    let path = args[1]
    var limits = WasmLimits()
    var seed: UInt64?
    var moduleArgs = [URL(fileURLWithPath: path).lastPathComponent]
    var i = 2
    while i < args.count {
        let a = args[i]
        func value() -> String {
            i += 1
            guard i < args.count else { fail("\(a) needs a value") }
            return args[i]
        }
        switch a {
        case "--fuel": limits.fuel = Int64(value()) ?? { fail("--fuel takes a number") }()
        case "--memory": limits.maxMemoryPages = UInt32(value()).flatMap { $0 <= 65_536 / 16 ? $0 * 16 : nil } ?? { fail("--memory takes MiB, 0 to 4096 (a 32-bit memory's 4 GiB)") }()
        case "--seed": seed = UInt64(value()) ?? { fail("--seed takes a number") }()
        case "--timeout-ms": limits.timeoutMillis = Int(value()) ?? { fail("--timeout-ms takes a number") }()
        case "--invoke": invoke = value()
        case "--":
            moduleArgs += args[(i + 1)...]
            i = args.count
        default: fail("unknown option '\(a)'")
        }
        i += 1
    }
    guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)", code: 66) }
    if let invoke {
        do {
            let instance = try Instance(module: try ModuleDecoder.decode(Array(data)), imports: [:], limits: limits)
            print(try instance.call(invoke).map { String($0) }.joined(separator: " "))
            exit(0)
        } catch let t as Trap {
            fail("\(path) trapped: \(t)", code: 125)
        } catch {
            fail("\(path): \(error)", code: 65)
        }
    }
    let stdin = FileHandle.standardInput.readDataToEndOfFile()
    let result: WasmRunResult
    do {
        result = try WasmRunner.run(Array(data), args: moduleArgs, stdin: Array(stdin), limits: limits, deterministicSeed: seed)
    } catch {
        fail("\(path): \(error)", code: 65)
    }
    FileHandle.standardOutput.write(Data(result.stdout))
    FileHandle.standardError.write(Data(result.stderr))
    if let trap = result.trap {
        FileHandle.standardError.write(Data("hive: \(path) trapped: \(trap) (after \(result.fuelUsed) instructions)\n".utf8))
        exit(125)
    }
    exit(result.exitCode ?? 125)
}

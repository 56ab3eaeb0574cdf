import ExternalTools
import Foundation

/// Compiles C to wasm32-wasi with the toolchain's clang against Debian's `wasi-libc` and the wasm32 builtins of
/// `libclang-rt-dev-wasm32` (both installed by make deps).
enum WasiC {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static var builtins: String? {
        let root = "/usr/lib"
        for llvm in (try? FileManager.default.contentsOfDirectory(atPath: root))?.filter({ $0.hasPrefix("llvm-") }).sorted().reversed() ?? [] {
            let clang = "\(root)/\(llvm)/lib/clang"
            for v in (try? FileManager.default.contentsOfDirectory(atPath: clang)) ?? [] {
                let a = "\(clang)/\(v)/lib/wasi/libclang_rt.builtins-wasm32.a"
                if FileManager.default.fileExists(atPath: a) { return a }
            }
        }
        return nil
    }

    static func compile(_ source: URL, in dir: URL, optimize: String = "-O2") throws -> [UInt8] {
        guard let rt = builtins else {
            throw MissingDependency("libclang_rt.builtins-wasm32.a not found: run make deps (Debian package libclang-rt-dev-wasm32)")
        }
        guard FileManager.default.fileExists(atPath: "/usr/include/wasm32-wasi/stdio.h") else {
            throw MissingDependency("/usr/include/wasm32-wasi/stdio.h not found: run make deps (Debian package wasi-libc)")
        }
        let out = dir.appendingPathComponent(source.deletingPathExtension().lastPathComponent + ".wasm")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try ExternalTool.toolchainPath("clang"))
        p.arguments = ["--target=wasm32-wasi", "--sysroot=/usr", optimize, source.path, "-nodefaultlibs", "-lc", rt, "-o", out.path]
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure(description: "clang: " + String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }
        return Array(try Data(contentsOf: out))
    }
}

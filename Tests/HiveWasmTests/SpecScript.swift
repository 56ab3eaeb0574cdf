import Foundation
@testable import HiveWasm

/// Runs a WebAssembly script in the spec test format, as wabt's `wast2json` writes it (a JSON list of commands
/// plus the `.wasm` files it names): modules, `register`, invocations and the `assert_*` commands. Text-format
/// `assert_malformed` modules are skipped (we load binaries only), and so is whatever needs what HiveWasm does not
/// offer: imported memories, tables and globals (the host gives modules functions only) and SIMD.
struct SpecScript {
    struct Outcome {
        var passed = 0
        var skipped = 0
        var failures: [String] = []
    }

    let directory: URL
    var outcome = Outcome()
    var current: Instance?
    var named: [String: Instance] = [:]
    var registered: [String: Instance] = [:]
    /// Instances whose state a skipped module would have changed (through an imported table, memory or global):
    /// what they answer next is not what the script expects, so their assertions are skipped.
    var tainted: Set<ObjectIdentifier> = []
    /// The instances each instance imports functions from (taint spreads through calls).
    var importsFrom: [ObjectIdentifier: [ObjectIdentifier]] = [:]

    func isTainted(_ id: ObjectIdentifier, seen: Set<ObjectIdentifier> = []) -> Bool {
        if tainted.contains(id) { return true }
        return importsFrom[id, default: []].contains { !seen.contains($0) && isTainted($0, seen: seen.union([id])) }
    }

    /// The `spectest` module's functions (the `print*` family; they print nothing here).
    static var spectest: [String: HostFunction] {
        let types: [String: [ValueType]] = ["print": [], "print_i32": [.i32], "print_i64": [.i64], "print_f32": [.f32],
                                            "print_f64": [.f64], "print_i32_f32": [.i32, .f32], "print_f64_f64": [.f64, .f64]]
        return types.mapValues { HostFunction($0, []) { _, _ in [] } }
    }

    static func run(json path: URL) throws -> Outcome {
        // Foundation's JSON reader drops a raw U+FEFF inside a string (names.wast exports one): escape it first.
        var raw = Array(try Data(contentsOf: path))
        var k = 0
        while k + 2 < raw.count {
            if raw[k] == 0xEF, raw[k + 1] == 0xBB, raw[k + 2] == 0xBF { raw.replaceSubrange(k..<k + 3, with: Array("\\uFEFF".utf8)) }
            k += 1
        }
        let data = Data(raw)
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let commands = root["commands"] as? [[String: Any]] else { throw Trap.host("\(path.path): not a wast2json script") }
        var script = SpecScript(directory: path.deletingLastPathComponent())
        for c in commands { script.perform(c, file: path.lastPathComponent) }
        return script.outcome
    }

    mutating func fail(_ c: [String: Any], _ file: String, _ why: String) {
        outcome.failures.append("\(file):\(c["line"] ?? "?"): \(c["type"] ?? "?"): \(why)")
    }

    var imports: [String: [String: HostFunction]] {
        var all: [String: [String: HostFunction]] = ["spectest": Self.spectest]
        for (name, instance) in registered {
            var functions: [String: HostFunction] = [:]
            for e in instance.module.exports where e.kind == .function {
                let type = instance.functionType(Int(e.index))
                functions[e.name] = HostFunction(type.params, type.results) { _, args in try instance.call(e.name, args) }
            }
            all[name] = functions
        }
        return all
    }

    /// Loads a module, or says why not; `nil` reason and `nil` instance means "skip: unsupported here".
    func load(_ file: String) -> (Instance?, String?) {
        guard let bytes = try? Data(contentsOf: directory.appendingPathComponent(file)) else { return (nil, "cannot read \(file)") }
        do {
            return (try Instance(module: try ModuleDecoder.decode(Array(bytes)), imports: imports), nil)
        } catch let e as InstantiationError {
            if case .unsupportedImport = e { return (nil, nil) }
            return (nil, "\(e)")
        } catch {
            let why = "\(error)"
            if why.contains("SIMD") || why.contains("not supported") { return (nil, nil) }
            return (nil, why)
        }
    }

    mutating func perform(_ c: [String: Any], file: String) {
        let type = c["type"] as? String ?? ""
        switch type {
        case "module":
            let (instance, why) = load(c["filename"] as? String ?? "")
            current = instance
            if let name = c["name"] as? String { named[name] = instance }
            if let why { fail(c, file, "valid module refused: \(why)") } else if instance == nil { skipModule(c) } else { outcome.passed += 1 }
            if let instance {
                importsFrom[ObjectIdentifier(instance)] = instance.module.imports.compactMap { registered[$0.module].map(ObjectIdentifier.init) }
            }
        case "register":
            let instance = (c["name"] as? String).flatMap { named[$0] } ?? current
            if let instance, let as_ = c["as"] as? String { registered[as_] = instance }
        case "action", "assert_return", "assert_trap", "assert_exhaustion":
            guard let action = c["action"] as? [String: Any] else { return fail(c, file, "no action") }
            let target = (action["module"] as? String).map { named[$0] } ?? current
            guard let instance = target, !isTainted(ObjectIdentifier(instance)) else {
                outcome.skipped += 1
                return
            }
            let result = Self.act(action, on: instance)
            switch (type, result) {
            case ("action", .success):
                outcome.passed += 1
            case ("assert_return", .success(let values)):
                let expected = c["expected"] as? [[String: Any]] ?? []
                if let why = Self.mismatch(values, expected) { fail(c, file, why) } else { outcome.passed += 1 }
            case ("assert_trap", .failure(.trapped(let t))):
                let text = c["text"] as? String ?? ""
                if Self.sameTrap(t, text) { outcome.passed += 1 } else { fail(c, file, "trapped '\(t)', expected '\(text)'") }
            case ("assert_exhaustion", .failure(.exhausted)):
                outcome.passed += 1
            case (_, .failure(.unsupported)):
                outcome.skipped += 1
            default:
                fail(c, file, "got \(result), expected \(c["text"] ?? c["expected"] ?? "success")")
            }
        case "assert_invalid", "assert_malformed":
            guard c["module_type"] as? String == "binary" else {
                outcome.skipped += 1
                return
            }
            guard let bytes = try? Data(contentsOf: directory.appendingPathComponent(c["filename"] as? String ?? "")) else {
                return fail(c, file, "cannot read the module")
            }
            do {
                _ = try CompiledModule(try ModuleDecoder.decode(Array(bytes)))
                fail(c, file, "accepted; expected '\(c["text"] ?? "")'")
            } catch {
                outcome.passed += 1
            }
        case "assert_unlinkable", "assert_uninstantiable":
            let (instance, why) = load(c["filename"] as? String ?? "")
            if instance != nil { fail(c, file, "instantiated; expected '\(c["text"] ?? "")'") } else if why == nil { skipModule(c) } else { outcome.passed += 1 }
        default:
            outcome.skipped += 1
        }
    }

    mutating func skipModule(_ c: [String: Any]) {
        outcome.skipped += 1
        guard let bytes = try? Data(contentsOf: directory.appendingPathComponent(c["filename"] as? String ?? "")),
              let module = try? ModuleDecoder.decode(Array(bytes)) else { return }
        for i in module.imports {
            if let r = registered[i.module] { tainted.insert(ObjectIdentifier(r)) }
        }
    }

    enum ActionError: Error { case trapped(Trap), exhausted, unsupported }

    static func act(_ action: [String: Any], on instance: Instance) -> Result<[UInt64], ActionError> {
        let field = action["field"] as? String ?? ""
        if action["type"] as? String == "get" {
            guard let e = instance.module.exports.first(where: { $0.name == field && $0.kind == .global }) else { return .failure(.unsupported) }
            return .success([instance.globals[Int(e.index)]])
        }
        var args: [UInt64] = []
        for a in action["args"] as? [[String: Any]] ?? [] {
            guard let v = value(a) else { return .failure(.unsupported) }
            args.append(v)
        }
        do {
            return .success(try instance.call(field, args))
        } catch let t as Trap {
            return .failure(t == .callStackExhausted ? .exhausted : .trapped(t))
        } catch {
            return .failure(.unsupported)
        }
    }

    /// A script value as a raw slot: integers and float bit patterns are unsigned decimal; references are null or
    /// a host value (externref n is n + 1, as the interpreter keeps them).
    static func value(_ v: [String: Any]) -> UInt64? {
        let text = v["value"] as? String ?? ""
        switch v["type"] as? String {
        case "i32", "f32": return UInt32(text).map(UInt64.init)
        case "i64", "f64": return UInt64(text)
        case "externref", "funcref": return text == "null" ? 0 : UInt64(text).map { $0 + 1 }
        default: return nil
        }
    }

    static func mismatch(_ values: [UInt64], _ expected: [[String: Any]]) -> String? {
        guard values.count == expected.count else { return "\(values.count) results, expected \(expected.count)" }
        for (v, e) in zip(values, expected) {
            let text = e["value"] as? String ?? ""
            switch e["type"] as? String {
            case "f32" where text.hasPrefix("nan:"):
                let bits = UInt32(truncatingIfNeeded: v)
                let ok = text == "nan:canonical" ? bits & 0x7FFF_FFFF == 0x7FC0_0000 : bits & 0x7FC0_0000 == 0x7FC0_0000
                if !ok { return "f32 bits \(String(bits, radix: 16)), expected \(text)" }
            case "f64" where text.hasPrefix("nan:"):
                let ok = text == "nan:canonical" ? v & 0x7FFF_FFFF_FFFF_FFFF == 0x7FF8_0000_0000_0000 : v & 0x7FF8_0000_0000_0000 == 0x7FF8_0000_0000_0000
                if !ok { return "f64 bits \(String(v, radix: 16)), expected \(text)" }
            case "funcref" where text != "null":
                if v == 0 { return "null, expected a function reference" }
            case "i32", "f32":
                if UInt32(truncatingIfNeeded: v) != UInt32(text) { return "\(UInt32(truncatingIfNeeded: v)), expected \(text) (\(e["type"]!))" }
            default:
                guard let want = value(e) else { return "cannot read expected \(e)" }
                if v != want { return "\(v), expected \(text) (\(e["type"] ?? "?"))" }
            }
        }
        return nil
    }

    /// The spec's trap texts are prefixes of ours or close to them ("undefined element" vs "undefined element",
    /// "uninitialized element 2" vs "uninitialized element").
    static func sameTrap(_ t: Trap, _ text: String) -> Bool {
        let ours = "\(t)"
        if ours.hasPrefix(text) || text.hasPrefix(ours) { return true }
        switch t {
        case .memoryOutOfBounds: return text.contains("out of bounds memory access")
        case .tableOutOfBounds: return text.contains("out of bounds table access") || text.contains("undefined element")
        case .uninitializedElement: return text.hasPrefix("uninitialized element")
        case .indirectCallTypeMismatch: return text.contains("indirect call type mismatch")
        default: return false
        }
    }
}

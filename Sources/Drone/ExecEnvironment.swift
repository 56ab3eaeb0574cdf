/// Which task-supplied environment variables an exec task's process may see.
///
/// A variable reaches the process only when its name matches the drone's allow-list (`--exec-env-allow`: exact
/// names, or prefixes ending in `*`). The default, `HIVE_*`, passes what Hive's plans and `hive eval` set and
/// nothing that steers the dynamic loader (`LD_PRELOAD`, `LD_LIBRARY_PATH`, `GLIBC_TUNABLES`), the shell (`ENV`,
/// `BASH_ENV`, `IFS`, `BASH_FUNC_*`) or an interpreter (`PYTHONPATH`, `NODE_OPTIONS`, `PERL5OPT`); `PATH`, `HOME`
/// and `TMPDIR` are the drone's (a fixed search path, the task's scratch directory) unless allowed by name.
/// A task naming a variable off the list fails with the variable's name, rather than running without it.
public struct ExecEnvironmentPolicy: Sendable, Equatable {
    public static let defaultAllowed = ["HIVE_*"]
    public let allowed: [String]

    public init(allowed: [String] = ExecEnvironmentPolicy.defaultAllowed) { self.allowed = allowed }

    public func allows(_ name: String) -> Bool {
        allowed.contains { pattern in
            pattern.hasSuffix("*") ? name.hasPrefix(pattern.dropLast()) : name == pattern
        }
    }

    /// The task's variables, or why the task may not set them.
    func check(_ env: [String: String]) -> Result<[String: String], ExecTaskError> {
        for (name, value) in env.sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty, !name.utf8.contains(UInt8(ascii: "=")), !name.utf8.contains(0), !value.utf8.contains(0) else {
                return .failure(.invalidEnvironment(name: name))
            }
            guard allows(name) else { return .failure(.environmentNotAllowed(name: name, allowed: allowed)) }
        }
        return .success(env)
    }
}

/// Why an exec task was not run, or how its process failed to start.
enum ExecTaskError: Error, Equatable, CustomStringConvertible {
    case noCommand
    case notAllowed(command: String)
    case environmentNotAllowed(name: String, allowed: [String])
    case invalidEnvironment(name: String)
    case nulInArgument
    case scratch(String)
    case resources(String)
    case spawn(command: String, reason: String)

    var description: String {
        switch self {
        case .noCommand: return "exec task without a command"
        case .notAllowed(let c): return "command '\(c)' is not on this drone's allow-list (drone --allow-exec)"
        case .environmentNotAllowed(let n, let a):
            return "environment variable \(n) is not allowed on this drone (allowed: \(a.isEmpty ? "none" : a.joined(separator: ","))); "
                + "the drone's operator can allow it with --exec-env-allow"
        case .invalidEnvironment(let n): return "environment variable '\(n)': names need no '=' and neither names nor values a NUL byte"
        case .nulInArgument: return "an argument contains a NUL byte"
        case .scratch(let why): return "cannot create a scratch directory: \(why)"
        case .resources(let why): return "cannot start the process: \(why)"
        case .spawn(let c, let why): return "cannot start \(c): \(why)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

extension ProgramSpec {
    /// The edge: resolves `args`; on help prints it and exits 0, on a bare program prints its usage and exits 64,
    /// on a bad command line prints `PROGRAM: MESSAGE` and where the help is (two lines on stderr) and exits 64.
    /// Returns only what is to run.
    public func parseOrExit(_ args: [String]) -> ParsedArguments {
        switch resolve(args) {
        case .run(let p): return p
        case .help(let text):
            print(text)
            exit(0)
        case .usage(let text):
            print(text)
            exit(64)
        case .failed(let error, let hint):
            fail(error, hint: hint)
        }
    }

    /// Prints a command-line error the way `parseOrExit` does, for checks made after parsing (`--count must be
    /// at least 1`), and exits 64.
    public func fail(_ error: CommandLineError, hint: String) -> Never {
        let text = "\(name): \(error)\n\(hint)\n"
        text.utf8CString.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count - 1) }
        exit(64)
    }

    /// `fail` for a parsed command: the hint names that command.
    public func fail(_ error: CommandLineError, in parsed: ParsedArguments) -> Never { fail(error, hint: hint(parsed.path)) }
}

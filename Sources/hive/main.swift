#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveCommandLine

// Every command is declared in its type (`HiveCommand.spec`); hiveProgram parses against those declarations,
// prints help from them, and refuses a bad command line with one line naming what is wrong.
let parsed = hiveProgram.parseOrExit(Array(CommandLine.arguments.dropFirst()))
guard let command = hiveCommands.first(where: { $0.spec.name == parsed.path.first }) else { fail("no command") }
await command.run(parsed)

func fail(_ message: String, code: Int32 = 64) -> Never {
    var text = "hive: \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(code)
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

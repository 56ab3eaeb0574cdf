import ExternalTools
import Testing

/// A tool the tests need that is not installed is an error naming its package, not a crash.
@Suite struct ExternalToolTests {
    @Test func aMissingToolIsOneLineNamingItsPackage() {
        do {
            _ = try ExternalTool.path("hive-no-such-tool", package: "hive-pkg")
            Issue.record("found a tool that does not exist")
        } catch let error as MissingDependency {
            #expect(error.description == "hive-no-such-tool not found: run make deps (Debian package hive-pkg)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func anInstalledToolIsFoundOnPath() throws {
        #expect(try ExternalTool.path("sh", package: "dash").hasSuffix("/sh"))
    }
}

import FoundationEssentials
import HiveCore

/// The role frames plans are rendered with: one file per role (`decompose.txt`, `explore.txt`, `critique.txt`,
/// `integrate.txt`) in honeycombd's prompts directory, each optionally with a completion-style variant for base
/// models (`explore.completion.txt`, …; see `PromptFrame`). Prompts are configuration, not code: edit the files
/// and restart. A submitted plan's own `prompts` win; the rest are filled in from here before the goal is
/// journaled, so every call's rendering (both formats) is replayed from the journal, not from the files.
public struct PromptLibrary: Sendable, Equatable {
    public var frames: [String: String]

    public init(frames: [String: String] = [:]) { self.frames = frames }

    /// Where honeycombd looks when no `prompts_dir` is configured: the source tree's `Config/prompts` (for runs
    /// from a checkout), then the installed copies.
    public static let searchPath = ["Config/prompts", "/etc/hive/prompts", "/usr/local/share/hive/prompts", "/usr/share/hive/prompts"]

    /// Loads every role's frames found in `directory` (`ROLE.txt` and `ROLE.completion.txt`); a frame with an
    /// unknown placeholder or a bad `stop:` header is a configuration error.
    public static func load(directory: String) throws(HoneycombConfigError) -> PromptLibrary {
        guard (try? FileManager.default.contentsOfDirectory(atPath: directory)) != nil else {
            throw .invalidValue(key: "prompts_dir", reason: "\(directory) is not a directory")
        }
        var frames: [String: String] = [:]
        for key in PromptFrame.keys {
            let path = directory + "/" + key + ".txt"
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            guard let text = String(data: data, encoding: .utf8) else {
                throw .invalidValue(key: "prompts_dir", reason: "\(path) is not UTF-8 text")
            }
            if let why = PromptFrame.problem(key: key, text: text) {
                throw .invalidValue(key: "prompts_dir", reason: "\(path): \(why)")
            }
            frames[key] = text
        }
        return PromptLibrary(frames: frames)
    }

    /// The configured directory, or the first of `searchPath` that exists; an empty library when there is none
    /// (plans must then carry their own `prompts`).
    public static func resolve(configured: String?) throws(HoneycombConfigError) -> (PromptLibrary, String?) {
        if let configured { return (try load(directory: configured), configured) }
        for dir in searchPath where FileManager.default.fileExists(atPath: dir + "/explore.txt") {
            return (try load(directory: dir), dir)
        }
        return (PromptLibrary(), nil)
    }

    /// `spec` with the frames its plan lacks filled in. A plan that brings its own chat frame for a role but no
    /// completion frame gets none from here either: its frame is then used on completion models too, rather
    /// than a library frame written for another prompt.
    public func filling(_ spec: GoalSpec) -> GoalSpec {
        guard var plan = spec.plan else { return spec }
        var s = spec
        let own = plan.prompts ?? [:]
        let fill = frames.filter { key, _ in
            guard key.hasSuffix(PromptFrame.completionSuffix) else { return true }
            return own[String(key.dropLast(PromptFrame.completionSuffix.count))] == nil
        }
        plan.prompts = own.merging(fill) { own, _ in own }
        s.plan = plan
        return s
    }
}

import Foundation
import HiveCore
import Honeycomb
import Testing

/// Role frames from the prompts directory: chat and completion variants, checked at start.
@Suite struct PromptLibraryTests {
    func directory(_ files: [String: String]) throws -> String {
        let dir = NSTemporaryDirectory() + "prompts-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        return dir
    }

    @Test func theShippedFramesLoadWithACompletionVariantForEveryRole() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Config/prompts").path
        let library = try PromptLibrary.load(directory: dir)
        #expect(Set(library.frames.keys) == Set(PromptFrame.keys))
        // Free-text roles end at a blank line; JSON roles are ended by their grammar (no stop strings that JSON
        // whitespace could contain).
        for (role, stops) in [(Role.explore, true), (.integrate, true), (.decompose, false), (.critique, false)] {
            guard case .success(let f) = PromptFrame.completion(library.frames[PromptFrame.key(role, .completion)]!) else {
                Issue.record("\(role)"); continue
            }
            #expect((f.stop?.contains("\n\n") ?? false) == stops, "\(role)")
            #expect(!f.template.hasSuffix("\n"), "\(role): the prompt ends where the answer starts")
        }
    }

    /// The frames built into honeycombd are Config/prompts byte for byte (Tools/embed_prompts.py writes them; this
    /// fails when someone edits one side only), and each is a valid frame.
    @Test func theBuiltInFramesAreConfigPrompts() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Config/prompts").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".txt") }
        var onDisk: [String: String] = [:]
        for name in files {
            onDisk[String(name.dropLast(".txt".count))] = try String(contentsOfFile: dir + "/" + name, encoding: .utf8)
        }
        let builtin = PromptLibrary.builtin.frames
        #expect(builtin.keys.sorted() == onDisk.keys.sorted(), "run python3 Tools/embed_prompts.py")
        for (key, text) in onDisk {
            #expect(builtin[key] == text, "\(key) differs from Config/prompts/\(key).txt: run python3 Tools/embed_prompts.py")
        }
        #expect(Set(builtin.keys) == Set(PromptFrame.keys))
        for (key, text) in builtin { #expect(PromptFrame.problem(key: key, text: text) == nil, "\(key)") }
    }

    @Test func withoutADirectoryHoneycombdRunsOnTheBuiltInFrames() throws {
        let (library, replaced) = try PromptLibrary.resolve(configured: nil)
        #expect(library == PromptLibrary.builtin && replaced.isEmpty)
    }

    @Test func aPromptsDirectoryReplacesTheBuiltInFramesFileByFile() throws {
        let dir = try directory(["explore.txt": "mine: {{task}}", "README": "not a frame"])
        let (library, replaced) = try PromptLibrary.resolve(configured: dir)
        #expect(replaced == ["explore"])
        #expect(library.frames["explore"] == "mine: {{task}}")
        var rest = library.frames, builtin = PromptLibrary.builtin.frames
        rest["explore"] = nil
        builtin["explore"] = nil
        #expect(rest == builtin && !rest.isEmpty)
    }

    @Test func aBadCompletionFrameStopsHoneycombdNamingTheFile() throws {
        let dir = try directory(["explore.txt": "{{task}}", "explore.completion.txt": "stop: [\"\\n\\n\"\n{{task}}"])
        do {
            _ = try PromptLibrary.load(directory: dir)
            Issue.record("loaded")
        } catch {
            #expect(error.description.contains("explore.completion.txt: the stop: header must be a JSON array"))
        }
    }

    @Test func aPlanWithItsOwnChatFrameIsNotGivenTheLibrarysCompletionFrame() throws {
        let library = PromptLibrary(frames: ["explore": "lib {{task}}", "explore.completion": "lib Q: {{task}}\nA:",
                                             "critique": "lib judge", "critique.completion": "lib review"])
        let own = library.filling(GoalSpec(plan: PlanSpec(goal: "g", steps: [StepSpec(id: "s")], prompts: ["explore": "mine {{task}}"])))
        #expect(own.plan?.prompts == ["explore": "mine {{task}}", "critique": "lib judge", "critique.completion": "lib review"])
        let none = library.filling(GoalSpec(plan: PlanSpec(goal: "g", steps: [StepSpec(id: "s")])))
        #expect(none.plan?.prompts == library.frames)
    }
}

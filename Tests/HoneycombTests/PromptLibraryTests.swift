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

import FoundationEssentials
import HiveCore
import Testing

/// The one part loop (`PartDownload`) against replies a hostile or broken honeycombd could send: it returns the
/// whole, or throws naming the fault, and never asks more than `limit + 1` times.
@Suite struct PartDownloadTests {
    let item = PartDownload.Item(noun: "blob", name: "sha256:x", limitFlag: "--max-blob-bytes")

    /// Serves `replies` in order (the last one again when they run out), counting the requests.
    final class Server: @unchecked Sendable {
        var replies: [PartDownload.Reply]
        var offsets: [Int?] = []
        init(_ replies: [PartDownload.Reply]) { self.replies = replies }
        func next(_ offset: Int?) -> PartDownload.Reply {
            offsets.append(offset)
            return replies.count > 1 ? replies.removeFirst() : replies[0]
        }
    }

    func fetch(_ server: Server, limit: Int = 100, sizeRequired: Bool = true) async -> Result<[UInt8], APIError> {
        do { return .success(try await PartDownload.fetch(item, limit: limit, sizeRequired: sizeRequired) { server.next($0) }) }
        catch let e as APIError { return .failure(e) }
        catch { return .failure(APIError("\(error)")) }
    }

    func reply(_ bytes: [UInt8], _ size: Int?) -> PartDownload.Reply { PartDownload.Reply(payload: bytes, size: size) }

    @Test func partsAreJoinedAskingFromWhereTheBytesEnd() async throws {
        let s = Server([reply([1, 2], 5), reply([3, 4], 5), reply([5], 5)])
        #expect(try await fetch(s).get() == [1, 2, 3, 4, 5])
        #expect(s.offsets == [nil, 2, 4])
    }

    @Test func hostileRepliesEndTheFetchNamingTheFault() async {
        func error(_ s: Server, limit: Int = 100, sizeRequired: Bool = true) async -> String {
            if case .failure(let e) = await fetch(s, limit: limit, sizeRequired: sizeRequired) { return e.error }
            return "no error"
        }
        // A size past the limit stops at the first reply, before more is read.
        let huge = Server([reply([1], 1 << 40)])
        #expect(await error(huge) == "blob sha256:x is 1099511627776 bytes; at most 100 bytes are fetched (--max-blob-bytes)")
        #expect(huge.offsets.count == 1)
        // Empty parts before the end would loop for ever.
        let stalled = Server([reply([1], 10), reply([], 10)])
        #expect(await error(stalled) == "blob sha256:x: honeycombd sent 1 of 10 bytes, then nothing")
        #expect(stalled.offsets.count == 2)
        // A size that changes between parts.
        #expect(await error(Server([reply([1], 10), reply([2], 11)])) == "blob sha256:x: honeycombd said 10 bytes, then 11")
        #expect(await error(Server([reply([1], -3)])) == "blob sha256:x: honeycombd claims a size of -3 bytes")
        #expect(await error(Server([reply([1, 2, 3], 2)])) == "blob sha256:x: honeycombd sent 3 bytes of 2")
        // Parts that keep coming past the limit without a size (an older honeycombd's whole module).
        #expect(await error(Server([reply(Array(repeating: 7, count: 101), nil)]), sizeRequired: false).hasSuffix("at most 100 bytes are fetched (--max-blob-bytes)"))
        // A reply without a size where every part has one is honeycombd's error, kind and all.
        let refusal = Server([reply(Array(#"{"error":"unknown blob","kind":"not_found"}"#.utf8), nil)])
        guard case .failure(let e) = await fetch(refusal) else { Issue.record("no error"); return }
        #expect(e == APIError(.notFound, "unknown blob"))
    }

    @Test func oneSteadyByteAtATimeEndsWithinTheLimit() async throws {
        let s = Server([reply([9], 50)])
        #expect(try await fetch(s).get() == Array(repeating: 9, count: 50))
        #expect(s.offsets.count == 50)
    }
}

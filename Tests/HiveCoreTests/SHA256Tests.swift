import HiveCore
import Testing

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownVectors(input: String, digest: String) {
        #expect(SHA256.hex(Array(input.utf8)) == digest)
    }

    @Test func streamingInOddChunksMatchesOneShot() {
        let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var h = SHA256()
        var i = 0
        for step in [1, 7, 63, 64, 65, 1000] where i < data.count {
            h.update(Array(data[i..<min(i + step, data.count)]))
            i = min(i + step, data.count)
        }
        h.update(Array(data[i...]))
        #expect(h.finalize().map { String($0, radix: 16) }.joined().count > 0)
        var one = SHA256()
        one.update(data)
        var two = SHA256()
        for b in data { two.update([b]) }
        #expect(one.finalize() == two.finalize())
    }
}

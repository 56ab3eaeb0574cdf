#if canImport(Glibc)
import Glibc
#endif
@testable import Drone
import Foundation
import HiveCore
import NATSClient
import NATSTestSupport
import Testing

/// Drones were declared lost while alive on busy machines: their heartbeat waited for Swift's cooperative pool
/// (two threads on two cores), which synchronous work (tokenizing, grammar compilation) can hold for seconds.
@Suite struct HeartbeatSenderTests {
    @Test func beatsOnScheduleWhileEveryPoolThreadIsBlocked() async throws {
        let broker = try RunningBroker(.embedded)
        let options = try NATSClientOptions(urls: "nats://127.0.0.1:\(broker.port)")
        let watcher = try await NATSClient.connect(options)
        let beats = try watcher.subscribe(APISubject.heartbeat("d1"))
        try await watcher.flush()
        let drone = try await NATSClient.connect(options)
        let sender = HeartbeatSender(client: drone, drone: "d1", replySubject: "_INBOX.d1.heartbeat", periodMillis: 100)
        sender.slotTaken("t1")
        sender.start()
        // Every thread of the pool blocked for 2 s, as synchronous work on them blocks it; the sender is stopped
        // as soon as they are free, so what arrived was sent while nothing on the pool could run.
        let width = ProcessInfo.processInfo.activeProcessorCount
        await withTaskGroup(of: Void.self) { g in
            for _ in 0..<width { g.addTask { usleep(2_000_000) } }
        }
        sender.stop()
        // The end marker goes on the same connection after every heartbeat, so it arrives after them all.
        try drone.publish(APISubject.heartbeat("d1"), "end")
        var got: [NATSMessage] = []
        for await m in beats {
            if m.payload == Array("end".utf8) { break }
            got.append(m)
        }
        // 20 periods; a starved heartbeat thread catches up one beat, not all it missed, so allow for load.
        #expect(got.count >= 10, "only \(got.count) heartbeats in 2 s at 100 ms while the pool was blocked")
        let hb = try JSONDecoder().decode(Heartbeat.self, from: Data(try #require(got.first).payload))
        #expect(hb.drone == "d1" && hb.running == ["t1"])
        #expect(got.allSatisfy { $0.reply == "_INBOX.d1.heartbeat" })
        drone.close()
        watcher.close()
    }
}

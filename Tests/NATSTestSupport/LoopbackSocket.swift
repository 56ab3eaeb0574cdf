#if canImport(Glibc)
import Glibc
#endif

/// The two socket moves the tests make by hand, against 127.0.0.1 only.
public enum LoopbackSocket {
    /// Connects `fd` to 127.0.0.1:`port`; true on success (errno says why not).
    public static func connect(_ fd: Int32, port: Int) -> Bool {
        var addr = address(port: port)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    /// Binds `fd` to an ephemeral port on 127.0.0.1 (listening with `backlog` when given) and returns the port.
    public static func bindEphemeral(_ fd: Int32, listenBacklog backlog: Int32? = nil) -> Int {
        var addr = address(port: 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
                bind(fd, p, len)
                if let backlog { listen(fd, backlog) }
                return getsockname(fd, p, &len)
            }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func address(port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return addr
    }
}

/// What a handler answers: a whole response, or a Server-Sent Events stream that stays open until the client
/// leaves or the stream is closed.
public enum HTTPReply: Sendable {
    case response(HTTPResponse)
    case events(EventStream, headers: [(name: String, value: String)] = [])
}

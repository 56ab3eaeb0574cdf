import FoundationEssentials
import HiveCore

/// One page of a list reply (`Paging`): as many items as the request's limit allows that fit the reply's byte
/// budget (the bus's `max_payload` less `Paging.headroom`), and where the next page starts.
struct ReplyPage {
    var body: [UInt8]
    /// The cursor of the next page, or nil on the last.
    var next: String?

    /// A JSON array of `items` (the list from `offset` on; `total` long in all), item by item until `limit`
    /// items or `budget` bytes. An item that alone cannot fit is an error naming the limit, never a reply that
    /// the bus would drop.
    static func array<T: Encodable>(_ items: some Sequence<T>, offset: Int, total: Int, limit: Int, budget: Int,
                                    encoder: JSONEncoder, what: String) -> Result<(items: [T], page: ReplyPage), APIError> {
        var body: [UInt8] = [UInt8(ascii: "[")]
        var taken: [T] = []
        for item in items {
            if taken.count == limit { break }
            guard let data = try? encoder.encode(item) else { return .failure(APIError("cannot encode \(what) \(offset + taken.count)")) }
            if body.count + data.count + 1 > budget {
                if taken.isEmpty {
                    return .failure(APIError("\(what) \(offset) is \(data.count) bytes, more than one reply can carry " +
                                             "(\(budget) bytes: the bus's max_payload less \(Paging.headroom))"))
                }
                break
            }
            if !taken.isEmpty { body.append(UInt8(ascii: ",")) }
            body += data
            taken.append(item)
        }
        body.append(UInt8(ascii: "]"))
        let end = offset + taken.count
        return .success((taken, ReplyPage(body: body, next: end < total ? String(end) : nil)))
    }

    /// A goal's result with one page of its work tasks: the rest of the result goes on every page.
    static func result(_ base: GoalResult, tasks: some Sequence<TaskView>, offset: Int, total: Int, limit: Int, budget: Int,
                       encoder: JSONEncoder) -> Result<ReplyPage, APIError> {
        guard let head = try? encoder.encode(base) else { return .failure(APIError("cannot encode the result of \(base.goal.goal)")) }
        let room = budget - head.count
        guard room > 2 else {
            return .failure(APIError("the result of \(base.goal.goal) is \(head.count) bytes before its tasks, more than one reply " +
                                     "can carry (\(budget) bytes: the bus's max_payload less \(Paging.headroom))"))
        }
        switch array(tasks, offset: offset, total: total, limit: limit, budget: room, encoder: encoder, what: "task") {
        case .failure(let e): return .failure(e)
        case .success(let (page, p)):
            var whole = base
            whole.tasks = page
            guard let body = try? encoder.encode(whole) else { return .failure(APIError("cannot encode the result of \(base.goal.goal)")) }
            return .success(ReplyPage(body: Array(body), next: p.next))
        }
    }
}

/// The Beekeeper dashboard: pages served from the binary (HTML at `/`, and the CSS and JavaScript at `/assets/…`;
/// no build step in the browser, no CDN, nothing fetched from elsewhere, no inline script or style, so the
/// Content-Security-Policy can allow only `'self'`). The files live in `Config/dashboard/` and are compiled in as
/// `DashboardAssets` by `Tools/embed_dashboard.py` (run by `make debug`/`make build`; a test fails when the two
/// drift apart), so honeycombd needs nothing beside its binary to serve them.
///
/// The page reads the same JSON API as everyone else and follows the event streams: the goal list (live), the
/// selected goal beside it (its fork–join tree live, with task ids, step names and join types; its answer, each
/// task's full output, budget and ledger re-read as its stream reports changes; why pending work waits), drones by
/// tier with their model, tools, host and slots (polled), tasks/s and tokens/s from `/metrics` as an SVG plot.
///
/// With credentials configured, a browser without a session gets the login page; logging in sets an HttpOnly
/// session cookie (`HTTPAPI`), which the page's requests and event streams carry by themselves; changes (approve
/// and deny of tasks awaiting approval, deny asking for a reason; cancel, which asks for confirmation first) also
/// carry the session's CSRF token from `GET /api/session`, and an observer's page shows none of those buttons.
enum Dashboard {
    /// A file under `/assets/`.
    struct Asset: Sendable {
        var text: String
        var contentType: String
    }

    /// The content type of each kind of file `Config/dashboard` may hold (the generator refuses any other kind).
    static let contentTypes = [
        "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8",
        "svg": "image/svg+xml",
    ]

    /// Everything but the pages, by file name.
    static let assets: [String: Asset] = {
        var assets: [String: Asset] = [:]
        for (name, text) in DashboardAssets.files {
            guard let ext = name.split(separator: ".").last, let type = contentTypes[String(ext)] else { continue }
            assets[name] = Asset(text: text, contentType: type)
        }
        return assets
    }()

    /// The dashboard, and the form a browser without a session gets instead.
    static let page = DashboardAssets.files["index.html"] ?? missing("index.html")
    static let loginPage = DashboardAssets.files["login.html"] ?? missing("login.html")

    /// What a binary built without a page serves (the generator refuses to leave one out; this keeps `/` answering).
    static func missing(_ name: String) -> String {
        "<!doctype html><title>Hive</title><p>This honeycombd was built without Config/dashboard/\(name): run python3 Tools/embed_dashboard.py and rebuild.</p>"
    }
}

/// The Beekeeper dashboard: one page, served from the binary (no build step, no CDN).
enum Dashboard {
    static let html = """
        <!doctype html><html><head><meta charset="utf-8"><title>Hive</title></head>
        <body><h1>Hive</h1><p>The dashboard is coming; the API is at <a href="/api/status">/api/status</a>.</p></body></html>
        """
}

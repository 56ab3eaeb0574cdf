import Foundation
import Testing

@testable import Honeycomb

/// The dashboard honeycombd serves is Config/dashboard byte for byte (Tools/embed_dashboard.py compiles it in; this
/// fails when someone edits one side only), and the pages name only assets that exist.
@Suite struct DashboardAssetsTests {
    @Test func theBuiltInAssetsAreConfigDashboard() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Config/dashboard").path
        var onDisk: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
            onDisk[name] = try String(contentsOfFile: dir + "/" + name, encoding: .utf8)
        }
        #expect(DashboardAssets.files.keys.sorted() == onDisk.keys.sorted(), "run python3 Tools/embed_dashboard.py")
        for (name, text) in onDisk {
            #expect(DashboardAssets.files[name] == text, "\(name) differs from Config/dashboard/\(name): run python3 Tools/embed_dashboard.py")
        }
    }

    @Test func everyAssetAPageNamesIsServedAndNoPageHasInlineScript() {
        #expect(Dashboard.page.contains("<main>") && Dashboard.loginPage.contains("login-form"))
        for page in [Dashboard.page, Dashboard.loginPage] {
            var rest = Substring(page)
            while let r = rest.range(of: "/assets/") {
                let name = rest[r.upperBound...].prefix { $0 != "\"" }
                #expect(Dashboard.assets[String(name)] != nil, "\(name) is linked but not served")
                rest = rest[r.upperBound...]
            }
            // The Content-Security-Policy allows only 'self': an inline <script> body or style= would be blocked.
            #expect(!page.contains("<script>") && !page.contains(" style=") && !page.contains("<style"))
        }
        #expect(Dashboard.assets["dashboard.js"]?.contentType == "text/javascript; charset=utf-8")
        #expect(Dashboard.assets["dashboard.css"]?.contentType == "text/css; charset=utf-8")
        #expect(Dashboard.assets["index.html"] == nil)
    }
}

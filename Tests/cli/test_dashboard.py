"""The dashboard in a real browser: headless Chromium from Debian, driven over the DevTools protocol (PyPI
websocket-client), loads the page from a running honeycombd with drones, watches a goal's fork–join tree update
live until it completes, and checks the DOM. honeycombd asks for a token, so the page first shows its login form;
the browser logs in through it and from then on works from its session cookie (no secret in any URL). Cancelling a
goal asks for confirmation, then goes through with the session's CSRF token. The page's Content-Security-Policy
must block nothing. The screenshot is kept as a test artifact
(.build/test-artifacts/dashboard.png)."""
import base64, hashlib, json, os, pathlib, shutil, subprocess, tempfile, time, urllib.request

import pytest
import websocket

from conftest import free_port, require_tool, wait_for_log
from test_control_plane import start_drones, start_honeycombd
from test_http import JSON, request

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / ".build" / "test-artifacts"
# Headless, no sandbox (containers), and off the network: every host but loopback resolves to nothing, and the
# browser's own background traffic (updates, safe browsing, metrics) is off.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
         "--disable-default-apps", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
         "--metrics-recording-only", "--no-pings", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
         "--window-size=1400,1000"]


class Browser:
    """One Chromium page over the DevTools protocol."""

    def __init__(self, procs, extra_flags=()):
        self.profile = tempfile.mkdtemp(prefix="hive-chromium-")
        self.proc = procs.start([CHROMIUM or require_tool("chromium", package="chromium"), *FLAGS, *extra_flags, f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "about:blank"])
        port_file = pathlib.Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1) and time.monotonic() < deadline:
            time.sleep(0.05)
        port = int(port_file.read_text().split("\n")[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg["result"]

    def eval(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return r["result"].get("value")

    def wait(self, expression, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.eval(expression):
                return
            time.sleep(0.05)
        raise AssertionError(f"never true: {expression}\nDOM: {self.eval('document.body.innerHTML')[:3000]}")

    def close(self):
        self.ws.close()
        shutil.rmtree(self.profile, ignore_errors=True)


TOKEN = "dashboard-s3cret"
AUTH = {**JSON, "Authorization": f"Bearer {TOKEN}"}
# Injected by DevTools (outside the page's policy): records what the Content-Security-Policy blocks.
CSP_WATCH = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
             "(e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")


def test_the_dashboard_follows_a_goal_tree_live_in_a_browser(procs, tmp_path):
    port, http_port = free_port(), free_port()
    hc = start_honeycombd(procs, tmp_path, port, extra={"http": f"127.0.0.1:{http_port}", "auth": {"token": TOKEN}})
    wait_for_log(hc, "event=http_listening")
    url = f"nats://{TOKEN}@127.0.0.1:{port}"
    start_drones(procs, url, 1, slots=2, tier="worker")
    start_drones(procs, url, 1, slots=1, tier="edge")
    browser = Browser(procs)
    try:
        # Two forks of three sleeps each: on three slots this takes a couple of seconds, so the page sees it run.
        sleep = {"kind": "exec", "input": {"command": "/bin/sleep", "args": ["0.4"]}}
        plan = {"name": "garden", "root": {"kind": "fork", "join": "all", "children": [
            {"kind": "fork", "join": "all", "children": [sleep] * 3} for _ in range(2)]}}
        status, _, body = request(http_port, "POST", "/api/goals", plan, AUTH)
        assert status == 201, body
        goal = body["goal"]
        browser.call("Page.enable")
        browser.call("Page.addScriptToEvaluateOnNewDocument", source=CSP_WATCH)
        browser.call("Page.navigate", url=f"http://127.0.0.1:{http_port}/?goal={goal}")
        # The login form, then the dashboard (the page reloads itself once the session cookie is set).
        browser.wait("document.querySelector('#login-form')?.dataset.ready === 'true'")
        browser.eval("document.querySelector('#token').value = 'wrong'; document.querySelector('#login-button').click()")
        browser.wait("document.querySelector('#login-error').textContent.includes('wrong token')")
        browser.eval(f"document.querySelector('#token').value = '{TOKEN}'; document.querySelector('#login-button').click()")
        browser.wait("document.querySelector('#goals') !== null", timeout=10)
        assert browser.eval("document.cookie") == ""  # HttpOnly: the page's script cannot read the session
        assert browser.eval("location.search") == f"?goal={goal}"
        browser.wait(f"document.querySelectorAll('#tree .node').length === 9")
        # Live: some node is seen running, later all are done, without reloading the page.
        browser.wait("document.querySelector('#tree .node[data-state=leased], #tree .node[data-state=running]') !== null", timeout=20)
        browser.wait("document.querySelector('#goal-panel').dataset.state === 'succeeded'", timeout=30)
        browser.wait("document.querySelectorAll('#tree .node[data-state=succeeded]').length === 9")
        dom = browser.eval("""JSON.stringify({
            goalRow: document.querySelector(`#goals tr[data-goal='%s']`)?.dataset.state,
            forks: document.querySelectorAll('#tree .node[data-kind=fork]').length,
            drones: [...document.querySelectorAll('#tree .node[data-kind=exec] .drone-name')].map(e => e.textContent),
            tiers: [...document.querySelectorAll('#drones .tier')].map(e => e.dataset.tier),
            ledger: document.querySelector('#ledger').textContent,
            cancel: document.querySelector('#cancel').disabled,
            reloads: performance.getEntriesByType('navigation').length})""" % goal)
        dom = json.loads(dom)
        assert dom["goalRow"] == "succeeded"
        assert dom["forks"] == 3
        assert len(dom["drones"]) == 6 and all(d.startswith("@") for d in dom["drones"])
        assert dom["tiers"] == ["worker", "edge"]
        assert "calls" in dom["ledger"] and dom["cancel"] is True
        assert dom["reloads"] == 1
        shot = browser.call("Page.captureScreenshot", format="png")["data"]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "dashboard.png").write_bytes(base64.b64decode(shot))
        assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000

        # Cancel asks first; only "yes" cancels, with the session's CSRF token.
        status, _, body = request(http_port, "POST", "/api/goals", {"name": "long", "root": {
            "kind": "exec", "input": {"command": "/bin/sleep", "args": ["30"]}}}, AUTH)
        long_goal = body["goal"]
        browser.wait(f"document.querySelector(`#goals tr[data-goal='{long_goal}']`) !== null")
        browser.eval(f"document.querySelector(`#goals tr[data-goal='{long_goal}']`).click()")
        browser.wait("document.querySelector('#goal-panel').dataset.state === 'running' && !document.querySelector('#cancel').disabled")
        browser.eval("document.querySelector('#cancel').click()")
        browser.wait("!document.querySelector('#confirm-cancel').hidden")
        assert long_goal in browser.eval("document.querySelector('#confirm-text').textContent")
        browser.eval("document.querySelector('#cancel-no').click()")
        assert browser.eval("document.querySelector('#confirm-cancel').hidden") is True
        assert request(http_port, "GET", f"/api/goals/{long_goal}", headers=AUTH)[2]["goal"]["state"] == "running"
        browser.eval("document.querySelector('#cancel').click()")
        browser.wait("!document.querySelector('#confirm-cancel').hidden")
        browser.eval("document.querySelector('#cancel-yes').click()")
        browser.wait("document.querySelector('#goal-panel').dataset.state === 'cancelled'", timeout=10)
        assert request(http_port, "GET", f"/api/goals/{long_goal}", headers=AUTH)[2]["goal"]["state"] == "cancelled"
        assert browser.eval("JSON.stringify(window.__csp)") == "[]"
    finally:
        browser.close()


def spki_hash(certificate):
    """base64(SHA-256(the certificate's public key)): what Chromium's --ignore-certificate-errors-spki-list trusts."""
    key = subprocess.run([require_tool("openssl", package="openssl"), "x509", "-in", certificate, "-pubkey", "-noout"], capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=key, capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def test_the_dashboard_works_over_https_with_a_secure_session_cookie(procs, tmp_path):
    from test_https import start_https, request as https_request, AUTH as HTTPS_AUTH, TOKEN as HTTPS_TOKEN
    http_port, ca, _, files = start_https(procs, tmp_path)
    # Chromium on Linux trusts CAs from an NSS database (certutil, not installed here); instead it is told to
    # accept exactly this server's key (--ignore-certificate-errors-spki-list, honoured with --user-data-dir),
    # which still fails any other certificate, unlike --ignore-certificate-errors.
    browser = Browser(procs, [f"--ignore-certificate-errors-spki-list={spki_hash(files['server'])}"])
    try:
        browser.call("Page.enable")
        browser.call("Network.enable")
        browser.call("Page.addScriptToEvaluateOnNewDocument", source=CSP_WATCH)
        browser.call("Page.navigate", url=f"https://127.0.0.1:{http_port}/")
        browser.wait("document.querySelector('#login-form')?.dataset.ready === 'true'")
        browser.eval(f"document.querySelector('#token').value = '{HTTPS_TOKEN}'; document.querySelector('#login-button').click()")
        browser.wait("document.querySelector('#goals') !== null", timeout=10)
        assert browser.eval("location.protocol") == "https:"
        assert browser.eval("document.cookie") == ""
        cookies = browser.call("Network.getCookies", urls=[f"https://127.0.0.1:{http_port}/"])["cookies"]
        session = next(c for c in cookies if c["name"] == "hive_session")
        assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Strict", session
        # The global event stream is open over TLS: a goal submitted elsewhere appears without a reload.
        browser.wait("document.querySelector('#live').classList.contains('on')")
        status, _, body = https_request(http_port, ca, "POST", "/api/goals", {"name": "over-tls", "root": {
            "kind": "exec", "input": {"command": "/bin/sleep", "args": ["30"]}}}, HTTPS_AUTH)
        assert status == 201, body
        goal = json.loads(body)["goal"]
        browser.wait(f"document.querySelector(`#goals tr[data-goal='{goal}']`) !== null")
        assert browser.eval("JSON.stringify(window.__csp)") == "[]"
    finally:
        browser.close()

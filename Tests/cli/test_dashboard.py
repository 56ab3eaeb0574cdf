"""The dashboard in a real browser: headless Chromium from Debian, driven over the DevTools protocol (PyPI
websocket-client), loads the page from a running honeycombd with drones, watches a goal's fork–join tree update
live until it completes, and checks the DOM. honeycombd asks for a token, so the page first shows its login form;
the browser logs in through it and from then on works from its session cookie (no secret in any URL). Cancelling a
goal asks for confirmation, then goes through with the session's CSRF token. The page's Content-Security-Policy
must block nothing, and the page logs no error to the console. Screenshots are kept as test artifacts under
$HIVE_ARTIFACTS (default .build/test-artifacts; each test prints where)."""
import base64, hashlib, json, os, pathlib, shutil, subprocess, sys, tempfile, time, urllib.request

import pytest
import websocket

from conftest import free_port, require_tool, wait_for_log, wait_until
from test_control_plane import start_drones, start_honeycombd
from test_http import JSON, request

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = pathlib.Path(os.environ.get("HIVE_ARTIFACTS") or pathlib.Path(__file__).resolve().parents[2] / ".build" / "test-artifacts")
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
        self.errors = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg["result"]
            self.note(msg)

    def note(self, msg):
        """Keeps what the page reports as an error (console.error, an uncaught exception, a failed load), once
        `watch_errors` has enabled those events."""
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            self.errors.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append("log: " + params["entry"].get("text", "") + " " + params["entry"].get("url", ""))

    def watch_errors(self):
        self.call("Runtime.enable")
        self.call("Log.enable")

    def screenshot(self, name):
        """Keeps a PNG of the page as a test artifact and says where."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        print(f"screenshot: {path}")
        assert path.stat().st_size > 10_000
        return path

    def eval(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return r["result"].get("value")

    def wait(self, expression, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.eval(expression):
                    return
            except AssertionError as e:
                # Evaluated while the page navigates (a reload after login or logout): ask the next document.
                if "navigated or closed" not in str(e) and "Cannot find context" not in str(e):
                    raise
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
        browser.call("Page.enable")
        browser.watch_errors()
        browser.call("Page.addScriptToEvaluateOnNewDocument", source=CSP_WATCH)
        browser.call("Page.navigate", url=f"http://127.0.0.1:{http_port}/")
        # The login form, then the dashboard (the page reloads itself once the session cookie is set).
        browser.wait("document.querySelector('#login-form')?.dataset.ready === 'true'")
        browser.eval("document.querySelector('#token').value = 'wrong'; document.querySelector('#login-button').click()")
        browser.wait("document.querySelector('#login-error').textContent.includes('wrong token')")
        browser.eval(f"document.querySelector('#token').value = '{TOKEN}'; document.querySelector('#login-button').click()")
        browser.wait("document.querySelector('#goals') !== null", timeout=10)
        # Two forks of three sleeps each: on three slots this takes a few seconds, so the page sees it run. Submitted
        # once the browser has its session, then opened by a link naming the goal (the cookie logs it in).
        sleep = {"kind": "exec", "input": {"command": "/bin/sleep", "args": ["1.5"]}}
        plan = {"name": "garden", "root": {"kind": "fork", "join": "all", "children": [
            {"kind": "fork", "join": "all", "children": [sleep] * 3} for _ in range(2)]}}
        status, _, body = request(http_port, "POST", "/api/goals", plan, AUTH)
        assert status == 201, body
        goal = body["goal"]
        browser.call("Page.navigate", url=f"http://127.0.0.1:{http_port}/?goal={goal}")
        browser.wait("document.querySelector('#goal-title')?.textContent.startsWith('%s')" % goal, timeout=10)
        assert browser.eval("document.cookie") == ""  # HttpOnly: the page's script cannot read the session
        assert browser.eval("location.search") == f"?goal={goal}"
        browser.wait(f"document.querySelectorAll('#tree .node').length === 9")
        # Live: some node is seen running, later all are done, without reloading the page.
        browser.wait("document.querySelector('#tree .node[data-state=leased], #tree .node[data-state=running]') !== null", timeout=20)
        # The ledger is live: the first three calls are counted while the other three still run.
        browser.wait("Number(document.querySelector('#ledger [data-ledger=calls] b')?.textContent) >= 1"
                     " && document.querySelector('#goal-panel').dataset.state === 'running'", timeout=20)
        browser.wait("document.querySelector('#goal-panel').dataset.state === 'succeeded'", timeout=30)
        browser.wait("document.querySelectorAll('#tree .node[data-state=succeeded]').length === 9")
        browser.wait("document.querySelector('#ledger [data-ledger=calls] b').textContent === '6'")
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
        # Task ids and join types in the tree: three forks joining "all", every node named by its id.
        assert browser.eval("document.querySelectorAll('#tree .node .join[data-join=all]').length") == 3
        ids = browser.eval("[...document.querySelectorAll('#tree .node')].map(n => n.querySelector('.id').textContent === n.dataset.task)")
        assert len(ids) == 9 and all(ids)
        browser.screenshot("dashboard.png")

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
        # The only error the page saw is the one this test caused on purpose: the refused login (a 401).
        assert [e for e in browser.errors if not ("status of 401" in e and "/login" in e)] == [], browser.errors
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


def open_dashboard(browser, http_port, token, goal=None):
    """Navigates to the dashboard, logs in through its form and waits until the page has its session."""
    browser.call("Page.navigate", url=f"http://127.0.0.1:{http_port}/" + (f"?goal={goal}" if goal else ""))
    browser.wait("document.querySelector('#login-form')?.dataset.ready === 'true'")
    browser.eval(f"document.querySelector('#token').value = '{token}'; document.querySelector('#login-button').click()")
    browser.wait("document.body.dataset.role !== undefined", timeout=10)


def long_output_task(lines):
    """An exec task that prints `lines` numbered lines (and the text it prints)."""
    script = f"i=0; while [ $i -lt {lines} ]; do echo \"line $i: the quick brown fox jumps over the lazy dog\"; i=$((i+1)); done"
    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(lines))
    return {"kind": "exec", "name": "chatty", "input": {"command": "/bin/sh", "args": ["-c", script]}}, text


def test_the_goal_detail_sits_beside_the_list_with_full_outputs_waits_drones_and_a_live_plot(procs, tmp_path):
    port, http_port = free_port(), free_port()
    hc = start_honeycombd(procs, tmp_path, port, extra={"http": f"127.0.0.1:{http_port}", "auth": {"token": TOKEN}})
    wait_for_log(hc, "event=http_listening")
    start_drones(procs, f"nats://{TOKEN}@127.0.0.1:{port}", 1, slots=4, tier="worker")
    browser = Browser(procs)
    try:
        browser.call("Page.enable")
        browser.watch_errors()
        browser.call("Page.addScriptToEvaluateOnNewDocument", source=CSP_WATCH)
        open_dashboard(browser, http_port, TOKEN)
        # The plot samples /metrics once a second: once it has a sample, a burst of short tasks must show up as a
        # tasks/s line above zero.
        browser.wait("Number(document.querySelector('#rate-tasks').dataset.points) >= 1", timeout=10)
        quick = {"kind": "exec", "input": {"command": "/bin/sleep", "args": ["0.05"]}}
        burst = request(http_port, "POST", "/api/goals", {"name": "burst", "root": {"kind": "fork", "join": "all", "children": [quick] * 40}}, AUTH)[2]["goal"]
        browser.wait("Number(document.querySelector('#rate-tasks').dataset.max) > 0", timeout=30)
        points = browser.eval("document.querySelector('#rate-tasks').getAttribute('points').trim().split(/\\s+/).length")
        assert points >= 2
        assert browser.eval("document.querySelector('#rate-tokens').dataset.points") == browser.eval("document.querySelector('#rate-tasks').dataset.points")

        # A long output, shown whole once opened (not cut), in the detail beside the goal list.
        task, text = long_output_task(300)
        assert len(text) > 10_000
        chatty = request(http_port, "POST", "/api/goals", {"name": "chatty", "root": task}, AUTH)[2]["goal"]
        browser.wait(f"document.querySelector(`#goals tr[data-goal='{chatty}']`) !== null")
        browser.eval(f"document.querySelector(`#goals tr[data-goal='{chatty}']`).click()")
        browser.wait("document.querySelector('#goal-panel').dataset.state === 'succeeded'", timeout=30)
        browser.wait(f"document.querySelector(`details.output[data-task='{chatty}.0']`) !== null", timeout=10)
        layout = json.loads(browser.eval("""JSON.stringify((() => {
            const list = document.querySelector('#goals-panel').getBoundingClientRect();
            const detail = document.querySelector('#goal-panel').getBoundingClientRect();
            return {listRight: list.right, listTop: list.top, detailLeft: detail.left, detailTop: detail.top, listBottom: list.bottom};
        })())"""))
        assert layout["detailLeft"] >= layout["listRight"], layout  # beside, not under
        assert layout["detailTop"] < layout["listBottom"], layout
        summary = browser.eval(f"document.querySelector(`details.output[data-task='{chatty}.0'] summary`).textContent")
        assert f"{len(text)} chars" in summary and "line 0:" in summary, summary
        assert browser.eval(f"document.querySelector(`details.output[data-task='{chatty}.0'] pre`).textContent") == ""
        browser.eval(f"document.querySelector(`details.output[data-task='{chatty}.0'] summary`).click()")
        browser.wait(f"document.querySelector(`details.output[data-task='{chatty}.0'] pre`).textContent.length > 0")
        assert browser.eval(f"document.querySelector(`details.output[data-task='{chatty}.0'] pre`).textContent") == text
        # The answer (the root's output) and its name in the tree.
        assert browser.eval("document.querySelector('#answer').textContent") == text
        assert browser.eval(f"document.querySelector(`#tree .node[data-task='{chatty}.0'] .step-name`).textContent") == "chatty"
        assert "calls" in browser.eval("document.querySelector('#ledger').textContent")
        # The budget: tasks used beside the goal's limit.
        assert browser.eval("document.querySelector('#budget [data-budget=tasks] b').textContent").startswith("1 / ")
        browser.screenshot("dashboard-output.png")

        # Drone details: tools, host and slots.
        browser.eval("document.querySelector('#drones .drone[data-drone=d0] summary').click()")
        browser.wait("document.querySelector('#drones .drone[data-drone=d0]').open")
        facts = json.loads(browser.eval("JSON.stringify(Object.fromEntries([...document.querySelectorAll('#drones .drone[data-drone=d0] dd')].map(d => [d.dataset.fact, d.textContent])))"))
        assert "exec:/bin/sh" in facts["tools"] and facts["slots"].startswith("4"), facts
        assert "CPUs" in facts["host"] and "backends" in facts, facts

        # A plan's tree: step nodes named by their step, with the step's join; the calls under them by STEP.ROLE.
        plan = {"goal": "two steps", "steps": [
            {"id": "a", "n": 2, "join": "any", "exec": {"command": "/bin/sh", "args": ["-c", "echo first"]}},
            {"id": "b", "inputs": ["a"], "prompt": "after {{steps.a}}", "exec": {"command": "/bin/sh", "args": ["-c", "grep -o 'after first'"]}}]}
        planned = request(http_port, "POST", "/api/goals", plan, AUTH)[2]["goal"]
        browser.wait(f"document.querySelector(`#goals tr[data-goal='{planned}']`) !== null")
        browser.eval(f"document.querySelector(`#goals tr[data-goal='{planned}']`).click()")
        browser.wait("document.querySelector('#goal-panel').dataset.state === 'succeeded'", timeout=30)
        joins = [[f"step {st['id']}", st["join"]] for st in request(http_port, "GET", f"/api/goals/{planned}", headers=AUTH)[2]["steps"]]
        assert joins[0] == ["step a", "any"], joins
        shown = "JSON.stringify([...document.querySelectorAll('#tree .node[data-kind=step]')].map(n => [n.querySelector('.step-name').textContent, n.querySelector('.join')?.dataset.join]))"
        try:
            browser.wait(f"{shown} === {json.dumps(json.dumps(joins, separators=(',', ':')))}", timeout=10)
        except AssertionError:
            raise AssertionError(f"steps shown {browser.eval(shown)}, the API says {joins}")
        calls = "[...document.querySelectorAll('#tree .node[data-kind=exec] .step-name')].map(e => e.textContent).sort().join(' ')"
        assert browser.eval(calls).startswith("a.explore a.explore b."), browser.eval(calls)
        browser.wait("document.querySelector('#answer').textContent.trim() === 'after first'", timeout=10)
        assert browser.eval("document.querySelectorAll('#steps .step').length") == 2
        browser.screenshot("dashboard-plan.png")

        # Why pending work waits: a task for a tier nobody serves, with the reason in the tree and the list.
        stuck = request(http_port, "POST", "/api/goals", {"name": "stuck", "root": {
            "kind": "exec", "tier": "core", "input": {"command": "/bin/echo", "args": ["hi"]}}}, AUTH)[2]["goal"]
        browser.wait(f"document.querySelector(`#goals tr[data-goal='{stuck}']`) !== null")
        browser.eval(f"document.querySelector(`#goals tr[data-goal='{stuck}']`).click()")
        browser.wait("document.querySelector('#waiting li[data-blocker=tier]') !== null", timeout=10)
        assert "no active drone of tier core" in browser.eval("document.querySelector('#waiting').textContent")
        browser.wait(f"document.querySelector(`#tree .node[data-task='{stuck}.0'] .waiting`) !== null")
        assert "no active drone of tier core" in browser.eval(f"document.querySelector(`#tree .node[data-task='{stuck}.0'] .waiting`).textContent")
        assert request(http_port, "GET", f"/api/goals/{burst}", headers=AUTH)[2]["goal"]["state"] == "succeeded"

        # Retried work says why: the only edge drone is killed mid-task; the task waits again, under the reason its
        # first attempt ended.
        [edge] = start_drones(procs, f"nats://{TOKEN}@127.0.0.1:{port}", 1, slots=1, tier="edge")  # d1
        lost = request(http_port, "POST", "/api/goals", {"name": "lost", "root": {
            "kind": "exec", "tier": "edge", "input": {"command": "/bin/sleep", "args": ["10"]}}}, AUTH)[2]["goal"]
        browser.wait(f"document.querySelector(`#goals tr[data-goal='{lost}']`) !== null")
        browser.eval(f"document.querySelector(`#goals tr[data-goal='{lost}']`).click()")
        browser.wait(f"document.querySelector(`#tree .node[data-task='{lost}.0'][data-state=running], #tree .node[data-task='{lost}.0'][data-state=leased]`) !== null", timeout=15)
        edge.kill()
        edge.wait()
        browser.wait(f"document.querySelector(`ul.attempts[data-task='{lost}.0'] li[data-attempt='1']`) !== null", timeout=30)
        assert "attempt 1 on d1: drone d1 lost" in browser.eval(f"document.querySelector(`ul.attempts[data-task='{lost}.0']`).textContent")
        browser.wait("document.querySelector('#waiting li[data-blocker=tier]') !== null", timeout=10)
        browser.wait(f"document.querySelector(`#tree .node[data-task='{lost}.0']`).dataset.state === 'pending'")
        assert browser.eval(f"document.querySelector(`#tree .node[data-task='{lost}.0'] .drone-name`)") is None  # no longer on d1
        browser.screenshot("dashboard-waiting.png")
        assert browser.eval("JSON.stringify(window.__csp)") == "[]"
        assert browser.errors == []
    finally:
        browser.close()


def test_the_plot_shows_tokens_per_second_while_a_model_drone_answers(procs, tmp_path, tiny_model):
    """The plot's tokens line (hive_tokens_total from /metrics, sampled once a second) rises above zero while a drone
    serving the generated GGUF answers model calls: the exec bursts above never spend a token."""
    from conftest import DRONE
    port, http_port = free_port(), free_port()
    hc = start_honeycombd(procs, tmp_path, port, extra={"http": f"127.0.0.1:{http_port}", "auth": {"token": TOKEN}})
    wait_for_log(hc, "event=http_listening")
    drone = procs.start([DRONE, "--honeycomb", f"nats://{TOKEN}@127.0.0.1:{port}", "--name", "gguf", "--tier", "worker",
                         "--model", tiny_model, "--slots", "4", "--ctx", "512"])
    wait_for_log(drone, "event=joined", timeout=60)
    browser = Browser(procs)
    try:
        browser.watch_errors()
        open_dashboard(browser, http_port, TOKEN)
        # Two samples make a point: from then on, tokens spent show up in the next second's sample.
        browser.wait("Number(document.querySelector('#rate-tokens').dataset.points) >= 1", timeout=10)
        assert browser.eval("document.querySelector('#rate-tokens').dataset.max") == "0.00", "no model has run yet"
        call = {"kind": "model", "input": {"prompt": "the hive and the drone", "max_tokens": 24, "temperature": 0}}
        goal = request(http_port, "POST", "/api/goals", {"name": "tokens", "root": {"kind": "fork", "children": [call] * 8}}, AUTH)[2]["goal"]
        browser.wait("Number(document.querySelector('#rate-tokens').dataset.max) > 0", timeout=60)
        assert browser.eval("document.querySelector('#rate-tokens').getAttribute('points').trim().split(/\\s+/).length") >= 2
        assert "tokens/s" in browser.eval("document.querySelector('#rate-now').textContent")
        # The tokens the plot counted are the goal's: the drone reported usage for its calls.
        summary = lambda: request(http_port, "GET", f"/api/goals/{goal}", None, AUTH)[2]["goal"]
        wait_until(f"goal {goal} to end", lambda: summary()["state"] != "running", timeout=60)
        assert summary()["state"] == "succeeded" and summary()["tokens_spent"] > 0, summary()
        assert browser.errors == []
    finally:
        browser.close()


def test_operators_approve_from_the_page_and_observers_see_no_buttons(procs, tmp_path):
    from conftest import DRONE, HONEYCOMBD
    http_port, port = free_port(), free_port()
    cfg = tmp_path / "honeycombd.json"
    cfg.write_text(json.dumps({"http": f"127.0.0.1:{http_port}", "heartbeat_ms": 200, "principals": [
        {"name": "alice", "role": "operator", "token": "op-token-1"},
        {"name": "grafana", "role": "observer", "token": "observer-token-1"},
        {"name": "d0", "role": "drone", "token": "drone-token-1"},
    ]}))
    hc = procs.start([HONEYCOMBD, "--config", str(cfg), "--listen", f"127.0.0.1:{port}"])
    wait_for_log(hc, "event=http_listening")
    d = procs.start([DRONE, "--honeycomb", f"nats://drone-token-1@127.0.0.1:{port}", "--name", "d0"])
    wait_for_log(d, "event=joined")
    op = {**JSON, "Authorization": "Bearer op-token-1"}
    plan = {"root": {"kind": "fork", "children": [{"kind": "noop", "approval": "required"}]}}
    first = request(http_port, "POST", "/api/goals", plan, op)[2]["goal"]
    second = request(http_port, "POST", "/api/goals", plan, op)[2]["goal"]
    browser = Browser(procs)
    try:
        browser.call("Page.enable")
        browser.watch_errors()
        browser.call("Page.addScriptToEvaluateOnNewDocument", source=CSP_WATCH)
        # The operator: the task awaiting approval is listed with its buttons; Approve runs it.
        open_dashboard(browser, http_port, "op-token-1", goal=first)
        assert browser.eval("document.body.dataset.role") == "operator"
        browser.wait(f"document.querySelector(`#approvals .approval[data-task='{first}.1'] .approve`) !== null", timeout=15)
        assert "proposed by submitter of" in browser.eval("document.querySelector('#approvals').textContent")
        browser.screenshot("dashboard-approval.png")
        browser.eval(f"document.querySelector(`#approvals .approval[data-task='{first}.1'] .approve`).click()")
        browser.wait("document.querySelector('#goal-panel').dataset.state === 'succeeded'", timeout=20)
        browser.wait("document.querySelector('#approvals-box').hidden")
        [t] = [t for t in request(http_port, "GET", f"/api/goals/{first}/tasks", headers=op)[2] if t["task"] == f"{first}.1"]
        assert t["approved_by"] == "alice"
        # The observer: the same list, without Approve, Deny or Cancel.
        browser.eval("document.querySelector('#logout').click()")
        browser.wait("document.querySelector('#login-form')?.dataset.ready === 'true'")
        open_dashboard(browser, http_port, "observer-token-1", goal=second)
        assert browser.eval("document.body.dataset.role") == "observer"
        browser.wait(f"document.querySelector(`#approvals .approval[data-task='{second}.1']`) !== null", timeout=15)
        assert browser.eval("document.querySelectorAll('#approvals button, .approval button').length") == 0
        assert browser.eval("document.querySelector('#cancel').hidden") is True
        assert request(http_port, "GET", f"/api/goals/{second}", headers=op)[2]["goal"]["state"] == "running"
        browser.screenshot("dashboard-observer.png")
        assert browser.eval("JSON.stringify(window.__csp)") == "[]"
        assert browser.errors == []
    finally:
        browser.close()


def test_the_built_in_dashboard_is_config_dashboard():
    """The generated Swift file matches Config/dashboard (the generator's --check; DashboardAssetsTests checks the
    compiled strings)."""
    root = pathlib.Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, str(root / "Tools" / "embed_dashboard.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_the_dashboard_generator_refuses_what_it_should_not_serve(tmp_path):
    """Only pages, scripts, styles and SVG images are compiled in (a stray file is never served by accident), both
    pages must exist, and each file becomes a literal whose value is the file byte for byte."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "Tools"))
    import embed_dashboard
    (tmp_path / "index.html").write_text("<main>")
    with pytest.raises(ValueError, match="login.html is missing"):
        embed_dashboard.generate(str(tmp_path))
    (tmp_path / "login.html").write_text("<form>")
    (tmp_path / "app.js").write_text('say("""#") \\# here')
    generated = embed_dashboard.generate(str(tmp_path))
    assert '"app.js": ##"""\nsay("""#") \\# here\n"""##,' in generated
    (tmp_path / "notes.txt").write_text("secret")
    with pytest.raises(ValueError, match="notes.txt: only"):
        embed_dashboard.generate(str(tmp_path))

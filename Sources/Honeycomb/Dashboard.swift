/// The Beekeeper dashboard: pages served from the binary (HTML, and the CSS and JavaScript at `/assets/…`; no build
/// step, no CDN, nothing fetched from elsewhere, no inline script or style, so the Content-Security-Policy can
/// allow only `'self'`). It reads the same JSON API as everyone else and follows the event streams: drones by tier
/// (polled), goals (live), and the selected goal's fork–join tree (live), with candidates, critic scores and the
/// ledger once the goal ends. Elements carry `data-*` attributes (task, state, tier) so the browser test can check
/// the DOM without depending on layout.
///
/// With credentials configured, a browser without a session gets `loginPage`; logging in sets an HttpOnly session
/// cookie (`HTTPAPI`), which the page's requests and event streams carry by themselves; changes (approve and deny
/// of tasks awaiting approval, deny asking for a reason; cancel, which asks
/// for confirmation first) also carry the session's CSRF token from `GET /api/session`.
enum Dashboard {
    /// A file under `/assets/`.
    struct Asset: Sendable {
        var text: String
        var contentType: String
    }

    static let assets: [String: Asset] = [
        "dashboard.css": Asset(text: css, contentType: "text/css; charset=utf-8"),
        "dashboard.js": Asset(text: script, contentType: "text/javascript; charset=utf-8"),
        "login.js": Asset(text: loginScript, contentType: "text/javascript; charset=utf-8"),
    ]

    static let page = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hive · Beekeeper</title>
<link rel="stylesheet" href="/assets/dashboard.css">
</head>
<body>
<header><h1>Hive · Beekeeper</h1><span id="status">connecting…</span><span id="live">live</span>
  <span id="who"></span><button id="logout" hidden>Log out</button></header>
<main>
  <div>
    <section id="drones-panel"><h2>Drones</h2><div id="drones"><p class="mute">none yet</p></div></section>
  </div>
  <div>
    <section id="goals-panel"><h2>Goals</h2>
      <table id="goals"><thead><tr><th>goal</th><th>name</th><th>state</th><th>tasks</th></tr></thead><tbody></tbody></table>
    </section>
    <section id="goal-panel" hidden>
      <div id="goal-head"><h2 id="goal-title"></h2><span id="goal-state" class="badge"></span>
        <button id="cancel">Cancel</button></div>
      <div id="confirm-cancel" hidden><span id="confirm-text"></span>
        <button id="cancel-yes" class="danger">Yes, cancel it</button><button id="cancel-no">Keep it running</button></div>
      <div id="ledger" class="ledger"></div>
      <div id="tree"></div>
      <div id="steps"></div>
    </section>
  </div>
</main>
<script src="/assets/dashboard.js"></script>
</body>
</html>
"""#

    static let loginPage = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hive · Beekeeper · log in</title>
<link rel="stylesheet" href="/assets/dashboard.css">
</head>
<body>
<header><h1>Hive · Beekeeper</h1></header>
<section id="login">
  <h2>Log in</h2>
  <form id="login-form" method="post" action="/login">
    <label>Token <input id="token" name="token" type="password" autocomplete="off"></label>
    <p class="mute">or a user and password</p>
    <label>User <input id="user" name="user" autocomplete="username"></label>
    <label>Password <input id="pass" name="pass" type="password" autocomplete="current-password"></label>
    <button id="login-button">Log in</button>
    <p id="login-error" role="alert"></p>
  </form>
</section>
<script src="/assets/login.js"></script>
</body>
</html>
"""#

    static let css = #"""
:root { --bg:#fbf8f1; --ink:#222; --mute:#777; --line:#e3dccb; --card:#fff;
        --pending:#b9b4a8; --leased:#e0a100; --running:#e0a100; --waiting:#7a9cc6; --succeeded:#2e9d5b;
        --failed:#d0453c; --dead:#8b1d16; --cancelled:#8a8a8a; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--ink); }
header { display:flex; gap:16px; align-items:baseline; padding:10px 18px; border-bottom:1px solid var(--line); background:#fff; }
header h1 { margin:0; font-size:18px; }
#status { color:var(--mute); }
#live { margin-left:auto; font-size:12px; color:var(--mute); }
#live.on::before { content:"● "; color:var(--succeeded); }
main { display:grid; grid-template-columns: 340px 1fr; gap:18px; padding:18px; }
section { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:12px 14px; }
h2 { font-size:14px; margin:0 0 8px; text-transform:uppercase; letter-spacing:.05em; color:var(--mute); }
.tier { margin-bottom:10px; }
.tier h3 { font-size:13px; margin:4px 0; }
.drone { display:flex; justify-content:space-between; gap:8px; padding:3px 6px; border-left:4px solid var(--succeeded); margin:2px 0; background:#faf9f6; }
.drone[data-state=draining] { border-color:var(--leased); }
.drone[data-state=lost] { border-color:var(--failed); opacity:.6; }
.drone[data-state=left] { opacity:.45; }
.drone .meta { color:var(--mute); font-size:12px; }
table { width:100%; border-collapse:collapse; }
td, th { text-align:left; padding:3px 6px; border-bottom:1px solid var(--line); font-size:13px; }
tr.goal { cursor:pointer; }
tr.goal:hover, tr.goal.selected { background:#fff4d6; }
.badge { display:inline-block; padding:0 6px; border-radius:8px; font-size:11px; color:#fff; background:var(--pending); }
.badge[data-state=running], .badge[data-state=leased] { background:var(--running); }
.badge[data-state=succeeded] { background:var(--succeeded); }
.badge[data-state=failed], .badge[data-state=dead] { background:var(--failed); }
.badge[data-state=cancelled] { background:var(--cancelled); }
.badge[data-state=waiting] { background:var(--waiting); }
#goal-head { display:flex; gap:12px; align-items:center; }
#goal-head h2 { margin:0; }
button { font:inherit; padding:3px 10px; border:1px solid var(--line); border-radius:4px; background:#fff; cursor:pointer; }
button:disabled { opacity:.4; cursor:default; }
ul.tree, ul.tree ul { list-style:none; margin:0; padding-left:18px; border-left:1px dashed var(--line); }
ul.tree { padding-left:0; border:none; }
.node { display:inline-flex; gap:6px; align-items:center; margin:2px 0; padding:2px 8px; border-radius:4px;
        border:1px solid var(--line); border-left:5px solid var(--pending); background:#fff; font-size:12px; }
.node[data-state=leased], .node[data-state=running] { border-left-color:var(--running); background:#fff8e5; }
.node[data-state=waiting] { border-left-color:var(--waiting); }
.node[data-state=succeeded] { border-left-color:var(--succeeded); }
.node[data-state=failed], .node[data-state=dead] { border-left-color:var(--failed); background:#fdeceb; }
.node[data-state=cancelled] { border-left-color:var(--cancelled); color:var(--mute); }
.node .kind { font-weight:600; }
.node .drone-name, .node .extra { color:var(--mute); }
.retry { color:var(--failed); font-weight:600; }
.ledger { display:flex; gap:18px; flex-wrap:wrap; margin:8px 0; font-size:12px; }
.ledger div b { display:block; font-size:15px; }
.step { margin:10px 0; }
.cand[data-accepted=true] td:first-child::before { content:"★ "; color:var(--succeeded); }
.mute { color:var(--mute); }
#goal-panel { margin-top:18px; }
#who { font-size:12px; color:var(--mute); }
.badge[data-state=awaiting_approval] { background:#d89614; }
.node[data-state=awaiting_approval] { border-left-color:#d89614; font-weight:600; }
.approval { margin:4px 0 8px 18px; padding:6px 10px; border:1px solid #d89614; border-radius:4px; background:#fff6e0; }
.approval-actions { display:flex; gap:8px; margin-top:4px; align-items:center; }
.approval button.danger { border-color:var(--failed); color:#fff; background:var(--failed); }
#confirm-cancel { margin:8px 0; padding:8px 10px; border:1px solid var(--failed); border-radius:4px; background:#fdeceb; display:flex; gap:10px; align-items:center; }
#confirm-cancel button.danger { border-color:var(--failed); color:#fff; background:var(--failed); }
#login { max-width:360px; margin:80px auto; }
#login form { display:grid; gap:10px; }
#login label { display:grid; gap:4px; font-size:13px; }
#login input { font:inherit; padding:4px 8px; border:1px solid var(--line); border-radius:4px; }
#login-error { color:var(--failed); min-height:1.4em; margin:0; }
[hidden] { display:none !important; }
"""#

    static let loginScript = #"""
"use strict";
// Sends the credential once as JSON; the answer sets an HttpOnly session cookie, then the page reloads as the dashboard.
document.getElementById("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const token = document.getElementById("token").value;
  const body = token ? { token } : { user: document.getElementById("user").value, pass: document.getElementById("pass").value };
  const error = document.getElementById("login-error");
  error.textContent = "";
  try {
    const r = await fetch("/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (r.ok) { location.reload(); return; }
    const answer = await r.json().catch(() => ({}));
    error.textContent = answer.error || r.statusText;
  } catch (err) { error.textContent = String(err.message || err); }
});
// Until this script runs, the form posts itself (refused: not JSON), so a typed secret never lands in a URL.
document.getElementById("login-form").dataset.ready = "true";
"""#

    static let script = #"""
"use strict";
const params = new URLSearchParams(location.search);
// Who we are (GET /api/session): a browser session's changes carry its CSRF token; credentials live only in the
// HttpOnly session cookie, never in this script or a URL.
let csrf = null, mayChange = true;
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
};
const final = (s) => ["succeeded", "failed", "cancelled", "dead"].includes(s);

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (csrf && options.method && options.method !== "GET") headers["X-Hive-CSRF"] = csrf;
  const r = await fetch(path, Object.assign({}, options, { headers }));
  if (r.status === 401) { location.reload(); throw new Error("session ended: log in again"); }
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}
// A list route, every page (the API pages lists by `limit`/`cursor`; the next cursor comes in Hive-Next-Cursor).
async function apiAll(path, maxPages = 100) {
  let items = [], cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const url = cursor ? path + (path.includes("?") ? "&" : "?") + "cursor=" + encodeURIComponent(cursor) : path;
    const r = await fetch(url);
    if (r.status === 401) { location.reload(); throw new Error("session ended: log in again"); }
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.statusText);
    items = items.concat(body);
    cursor = r.headers.get("Hive-Next-Cursor");
    if (!cursor) break;
  }
  return items;
}
function stream(path, handlers) {
  const es = new EventSource(path);
  for (const [name, f] of Object.entries(handlers)) es.addEventListener(name, (e) => f(JSON.parse(e.data)));
  es.onopen = () => $("live").classList.add("on");
  es.onerror = () => $("live").classList.remove("on");
  return es;
}

// Status and drones: polled (they change slowly and have no events).
const lastCompleted = {};
async function refreshDrones() {
  try {
    const s = await api("/api/status");
    $("status").textContent = `${s.service} ${s.version} · ${s.broker} broker · up ${Math.round(s.uptime_seconds)} s`;
    const drones = await apiAll("/api/drones");
    const box = $("drones");
    box.replaceChildren();
    if (!drones.length) box.append(el("p", { class: "mute" }, "none yet"));
    for (const tier of ["core", "worker", "edge"]) {
      const here = drones.filter((d) => d.tier === tier);
      if (!here.length) continue;
      const group = el("div", { class: "tier", "data-tier": tier }, el("h3", {}, `${tier} · ${here.length}`));
      for (const d of here) {
        const rate = lastCompleted[d.drone] === undefined ? 0 : (d.completed - lastCompleted[d.drone]) / 2;
        lastCompleted[d.drone] = d.completed;
        group.append(el("div", { class: "drone", "data-drone": d.drone, "data-state": d.state },
          el("span", {}, d.name),
          el("span", { class: "meta" }, `${d.running}/${d.slots} busy · ${d.completed} done${d.failed ? ` · ${d.failed} failed` : ""} · ${rate.toFixed(1)}/s · ${d.state}`)));
      }
      box.append(group);
    }
  } catch (e) { $("status").textContent = String(e.message || e); }
}

// Goals: listed once, then kept current by the global event stream.
const goals = new Map();
function renderGoals() {
  const body = $("goals").tBodies[0];
  body.replaceChildren();
  for (const g of [...goals.values()].reverse()) {
    const row = el("tr", { class: "goal" + (g.goal === selected ? " selected" : ""), "data-goal": g.goal, "data-state": g.state },
      el("td", {}, g.goal), el("td", {}, g.name || ""), el("td", {}, el("span", { class: "badge", "data-state": g.state }, g.state)),
      el("td", {}, g.tasks ?? ""));
    row.onclick = () => select(g.goal);
    body.append(row);
  }
}
async function loadGoals() {
  for (const g of await apiAll("/api/goals")) goals.set(g.goal, { goal: g.goal, name: g.name, state: g.state, tasks: g.tasks });
  renderGoals();
  stream("/api/events", { goal: (g) => { goals.set(g.goal, Object.assign(goals.get(g.goal) || {}, g)); renderGoals(); } });
}

// The selected goal: its tree from /tasks, then live from its own stream; the result (ledger, steps) at the end.
let selected = null, goalStream = null, nodes = new Map(), pending = false;
function scheduleTree() { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; renderTree(); }); } }
function upsert(t) { nodes.set(t.task, Object.assign(nodes.get(t.task) || {}, t)); scheduleTree(); }
function renderTree() {
  const children = new Map();
  for (const t of nodes.values()) {
    const k = t.parent || "";
    if (!children.has(k)) children.set(k, []);
    children.get(k).push(t);
  }
  const build = (parent) => {
    const list = (children.get(parent) || []).sort((a, b) => a.index - b.index);
    if (!list.length) return null;
    const ul = el("ul", { class: parent ? "" : "tree" });
    for (const t of list) {
      const label = el("span", { class: "node", "data-task": t.task, "data-state": t.state, "data-kind": t.kind },
        el("span", { class: "kind" }, t.role ? `${t.kind} · ${t.role}` : t.kind),
        el("span", { class: "badge", "data-state": t.state }, t.state));
      if (t.drone) label.append(el("span", { class: "drone-name" }, "@" + t.drone + (t.tier ? ` (${t.tier})` : "")));
      if (t.attempts > 1) label.append(el("span", { class: "retry", title: "retried" }, `×${t.attempts}`));
      if (t.round) label.append(el("span", { class: "extra", title: "re-fork round" }, `round ${t.round + 1}`));
      if (t.reason) label.append(el("span", { class: "extra" }, t.reason));
      if (t.state === "pending" && t.waiting) label.append(el("span", { class: "extra waiting" }, "waiting: " + t.waiting));
      if (t.approved_by) label.append(el("span", { class: "extra" }, `approved by ${t.approved_by}`));
      const li = el("li", {}, label);
      if (t.state === "awaiting_approval" && t.approval) li.append(approvalBox(t));
      const sub = build(t.task);
      if (sub) li.append(sub);
      ul.append(li);
    }
    return ul;
  };
  $("tree").replaceChildren(build("") || el("p", { class: "mute" }, "no tasks"));
}
// A task waiting for approval: what it will run, where, who proposed it and why; Approve, or Deny with a reason.
function approvalBox(t) {
  const a = t.approval;
  const where = a.drone ? `on ${a.drone}` : a.tier ? `on a ${a.tier} drone` : "on any drone";
  const box = el("div", { class: "approval", "data-task": t.task },
    el("div", {}, el("b", {}, "awaits approval: "), el("code", {}, a.runs), ` ${where}`),
    el("div", { class: "mute" }, `proposed by ${a.proposed_by} · ${a.why}`));
  if (!mayChange) return box;
  const decide = (verb, body) => api(`/api/goals/${t.goal || selected}/${verb}`,
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
    .catch((e) => { $("status").textContent = String(e.message || e); });
  const approve = el("button", { class: "approve" }, "Approve");
  approve.onclick = () => decide("approve", { tasks: [t.task] });
  const deny = el("button", { class: "deny danger" }, "Deny…");
  const reason = el("input", { class: "deny-reason", placeholder: "why (recorded with the denial)", hidden: true });
  const confirm = el("button", { class: "deny-confirm danger", hidden: true }, "Deny it");
  deny.onclick = () => { reason.hidden = false; confirm.hidden = false; reason.focus(); };
  confirm.onclick = () => {
    if (!reason.value.trim()) { reason.focus(); return; }
    decide("deny", { tasks: [t.task], reason: reason.value.trim() });
  };
  box.append(el("div", { class: "approval-actions" }, approve, deny, reason, confirm));
  return box;
}
function renderResult(r) {
  const l = r.ledger || {}, t = l.total || {};
  const box = $("ledger");
  box.replaceChildren();
  const stat = (name, value) => box.append(el("div", {}, el("b", {}, value), name));
  stat("calls", t.calls ?? 0);
  stat("tokens", (t.prompt_tokens ?? 0) + (t.generated_tokens ?? 0));
  stat("task time", `${((t.task_ms ?? 0) / 1000).toFixed(1)} s`);
  stat("core share", `${Math.round((l.core_share ?? 0) * 100)}%`);
  for (const [tier, line] of Object.entries(l.by_tier || {})) {
    stat(`${tier}: calls · tokens · time`, `${line.calls} · ${line.prompt_tokens + line.generated_tokens} · ${((line.task_ms ?? 0) / 1000).toFixed(1)} s`);
  }
  if (l.retries) stat("retries", l.retries);
  if (l.reforks) stat("re-forks", l.reforks);
  const steps = $("steps");
  steps.replaceChildren();
  for (const s of r.steps || []) {
    const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "candidate"), el("th", {}, "drone"),
      el("th", {}, "check"), el("th", {}, "score"), el("th", {}, "judges"), el("th", {}, "output"))));
    const tb = el("tbody");
    for (const c of s.candidates) {
      tb.append(el("tr", { class: "cand", "data-task": c.task, "data-accepted": String(c.accepted) },
        el("td", {}, `${c.task} r${c.round + 1}`), el("td", {}, `${c.drone || ""}${c.tier ? ` (${c.tier})` : ""}`),
        el("td", {}, c.verified === undefined || c.verified === null ? "" : c.verified ? "pass" : "fail"),
        el("td", {}, c.score === undefined || c.score === null ? "" : c.score.toFixed(2)),
        el("td", {}, (c.judges || []).map((j) => `${j.drone || j.task}: ${j.score ?? "?"}`).join(", ")),
        el("td", { class: "mute" }, (c.output || c.rejection || "").slice(0, 80))));
    }
    table.append(tb);
    steps.append(el("div", { class: "step", "data-step": s.id, "data-state": s.state },
      el("h2", {}, `step ${s.id} · ${s.role} · ${s.join} · ${s.state}${s.rounds > 1 ? ` · ${s.rounds} rounds` : ""}`), table,
      s.integrator ? el("p", { class: "mute" }, `integrated by ${s.integrator_drone || s.integrator}`) : ""));
  }
}
async function select(goal) {
  if (goalStream) goalStream.close();
  $("confirm-cancel").hidden = true;
  selected = goal;
  nodes = new Map();
  history.replaceState(null, "", "?goal=" + encodeURIComponent(goal));
  renderGoals();
  $("goal-panel").hidden = false;
  $("goal-title").textContent = goal;
  $("ledger").replaceChildren();
  $("steps").replaceChildren();
  for (const t of await apiAll(`/api/goals/${goal}/tasks`)) upsert(t);
  goalStream = stream(`/api/goals/${goal}/events`, {
    task: upsert,
    goal: (g) => {
      const badge = $("goal-state");
      badge.textContent = g.state;
      badge.dataset.state = g.state;
      $("goal-panel").dataset.state = g.state;
      $("cancel").disabled = final(g.state) || !mayChange;
      if (final(g.state)) $("confirm-cancel").hidden = true;
      if (final(g.state)) {
        api(`/api/goals/${goal}`).then(renderResult).catch(() => {});
        refreshDrones();
      }
    },
    overflow: () => select(goal),
  });
}
// Cancelling stops running work for good: it asks first.
$("cancel").onclick = () => {
  if (!selected) return;
  $("confirm-text").textContent = `Cancel goal ${selected}? Its running tasks are stopped and it cannot be resumed.`;
  $("confirm-cancel").dataset.goal = selected;
  $("confirm-cancel").hidden = false;
};
$("cancel-no").onclick = () => { $("confirm-cancel").hidden = true; };
$("cancel-yes").onclick = () => {
  const goal = $("confirm-cancel").dataset.goal;
  $("confirm-cancel").hidden = true;
  if (goal) api(`/api/goals/${goal}/cancel`, { method: "POST", headers: { "Content-Type": "application/json" } })
    .catch((e) => { $("status").textContent = String(e.message || e); });
};

async function start() {
  const who = await api("/api/session");
  csrf = who.csrf;
  mayChange = who.role === "operator";
  if (who.auth_required) {
    $("who").textContent = `${who.principal} (${who.role})`;
    $("logout").hidden = false;
    $("logout").onclick = () => fetch("/logout", { method: "POST", headers: { "Content-Type": "application/json", "X-Hive-CSRF": csrf || "" } })
      .finally(() => location.reload());
  }
  if (!mayChange) $("cancel").disabled = true;
  refreshDrones();
  setInterval(refreshDrones, 2000);
  await loadGoals();
  if (params.get("goal")) await select(params.get("goal"));
}
start().catch((e) => { $("status").textContent = String(e.message || e); });
"""#
}

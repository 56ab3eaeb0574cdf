"use strict";
// The Beekeeper dashboard. It reads the same JSON API as everyone else (GET /api/…) and follows the event streams
// (Server-Sent Events): the goal list live, the selected goal's tree live, and its answer, outputs, budget and
// ledger re-read (at most a few times a second) whenever its stream says something changed. Drones are polled
// (they have no events); the throughput plot samples /metrics' counters once a second. Elements carry data-*
// attributes (task, state, tier, …) so the browser test checks the DOM without depending on layout.
const params = new URLSearchParams(location.search);
// Who we are (GET /api/session): a browser session's changes carry its CSRF token; credentials live only in the
// HttpOnly session cookie, never in this script or a URL. Observers get no buttons that change anything.
let csrf = null, mayChange = true;
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
  }
  for (const k of kids) if (k !== null && k !== undefined && k !== "") e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
};
const final = (s) => ["succeeded", "failed", "cancelled", "dead"].includes(s);
const structural = (kind) => kind === "fork" || kind === "plan" || kind === "step";
const seconds = (ms) => `${((ms ?? 0) / 1000).toFixed(1)} s`;
const showError = (e) => { $("status").textContent = String(e.message || e); };

// Logging out: no new request starts, and the logout waits for those in flight, so none of them reaches the
// server after the session ends (each would be a 401 in the console).
let leaving = false;
const timers = [];
let inflight = 0;
// Every request of the page's own goes through here.
async function send(path, options = {}) {
  if (leaving) throw new Error("logging out");
  inflight++;
  try { return await fetch(path, options); } finally { inflight--; }
}
async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (csrf && options.method && options.method !== "GET") headers["X-Hive-CSRF"] = csrf;
  const r = await send(path, Object.assign({}, options, { headers }));
  if (r.status === 401) { location.reload(); throw new Error("session ended: log in again"); }
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}
// Every page of a paged route (`limit`/`cursor`; the next cursor comes in Hive-Next-Cursor), as a list of bodies.
async function apiPages(path, maxPages = 100) {
  const pages = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const url = cursor ? path + (path.includes("?") ? "&" : "?") + "cursor=" + encodeURIComponent(cursor) : path;
    const r = await send(url);
    if (r.status === 401) { location.reload(); throw new Error("session ended: log in again"); }
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.statusText);
    pages.push(body);
    cursor = r.headers.get("Hive-Next-Cursor");
    if (!cursor) break;
  }
  return pages;
}
const apiAll = async (path) => (await apiPages(path)).flat();
const streams = new Set();
function stream(path, handlers) {
  const es = new EventSource(path);
  streams.add(es);
  const close = es.close.bind(es);
  es.close = () => { streams.delete(es); close(); };
  for (const [name, f] of Object.entries(handlers)) es.addEventListener(name, (e) => f(JSON.parse(e.data)));
  es.onopen = () => $("live").classList.add("on");
  es.onerror = () => $("live").classList.remove("on");
  return es;
}

// ---- Throughput: tasks/s and tokens/s from /metrics' counters, drawn as two polylines in an inline SVG.
const RATE_WINDOW_MS = 120_000, RATE_W = 600, RATE_H = 90;
const rate = { samples: [], last: null };
function counterSum(text, name) {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    const v = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}
async function sampleRate() {
  try {
    const r = await send("/metrics");
    if (!r.ok) return;
    const text = await r.text();
    const now = performance.now();
    const tasks = counterSum(text, "hive_tasks_finished_total"), tokens = counterSum(text, "hive_tokens_total");
    if (rate.last) {
      const dt = (now - rate.last.t) / 1000;
      // A counter that went down (honeycombd restarted) counts as a fresh start, never as a negative rate.
      if (dt > 0) rate.samples.push({ t: now, tasks: Math.max(0, tasks - rate.last.tasks) / dt, tokens: Math.max(0, tokens - rate.last.tokens) / dt });
    }
    rate.last = { t: now, tasks, tokens };
    while (rate.samples.length && now - rate.samples[0].t > RATE_WINDOW_MS) rate.samples.shift();
    drawRate(now);
  } catch (e) { /* the next sample tries again */ }
}
function drawRate(now) {
  // The x axis spans what has been sampled (at least 10 s), up to the window: a fresh page fills the plot too.
  const span = rate.samples.length ? Math.min(RATE_WINDOW_MS, Math.max(10_000, now - rate.samples[0].t)) : RATE_WINDOW_MS;
  $("rate-span").textContent = `last ${Math.round(span / 1000)} s`;
  for (const key of ["tasks", "tokens"]) {
    const peak = rate.samples.reduce((m, s) => Math.max(m, s[key]), 0);
    const points = rate.samples.map((s) => {
      const x = RATE_W - ((now - s.t) / span) * RATE_W;
      const y = RATE_H - 4 - (peak > 0 ? (s[key] / peak) * (RATE_H - 8) : 0);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    const line = $("rate-" + key);
    line.setAttribute("points", points.join(" "));
    line.setAttribute("data-points", String(points.length));
    line.setAttribute("data-max", peak.toFixed(2));
    $(`rate-${key}-max`).textContent = `peak ${peak < 10 ? peak.toFixed(1) : Math.round(peak)}`;
  }
  const last = rate.samples[rate.samples.length - 1];
  $("rate-now").textContent = last ? `· now ${last.tasks.toFixed(1)} tasks/s · ${Math.round(last.tokens)} tokens/s` : "";
}

// ---- Status and drones: polled (they change slowly and have no events). A drone opens to its details.
const openDrones = new Set();
function droneFacts(d) {
  const caps = d.capabilities || [];
  const pick = (prefix) => caps.filter((c) => c.startsWith(prefix)).map((c) => c.slice(prefix.length));
  const models = pick("model:"), backends = pick("backend:");
  const tools = caps.filter((c) => /^(exec|effect|tool|wasm)(:|$)/.test(c));
  const other = caps.filter((c) => !c.startsWith("model:") && !c.startsWith("backend:") && !tools.includes(c));
  return { models, backends, tools, other };
}
function droneCard(d) {
  const f = droneFacts(d), h = d.host;
  const card = el("details", { class: "drone", "data-drone": d.drone, "data-state": d.state, open: openDrones.has(d.drone) },
    el("summary", {}, el("span", {}, d.name, f.models.length ? el("span", { class: "meta" }, " · " + f.models.join(", ")) : ""),
      el("span", { class: "meta" }, `${d.running}/${d.slots} busy · ${d.completed} done${d.failed ? ` · ${d.failed} failed` : ""} · ${d.state}`)));
  card.addEventListener("toggle", () => { if (card.open) openDrones.add(d.drone); else openDrones.delete(d.drone); });
  const dl = el("dl");
  const row = (k, v) => { if (v) dl.append(el("dt", {}, k), el("dd", { "data-fact": k }, v)); };
  row("id", d.drone);
  row("model", f.models.join(", ") + (d.prompt_format ? ` (${d.prompt_format} prompts)` : ""));
  row("backends", f.backends.join(", "));
  row("tools", f.tools.join(", "));
  row("capabilities", f.other.join(", "));
  row("slots", `${d.slots} (${d.running} running)`);
  row("host", h ? `${h.hostname} · ${h.os} · ${h.cpus} CPUs · ${h.memory_mb} MiB` : "");
  row("last seen", `${seconds(d.last_seen_ms_ago)} ago`);
  card.append(dl);
  return card;
}
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
      for (const d of here) group.append(droneCard(d));
      box.append(group);
    }
  } catch (e) { showError(e); }
}

// ---- Goals: listed once, then kept current by the global event stream.
const goals = new Map();
let goalsPending = false;
// Many goal events in one frame redraw the list once.
function scheduleGoals() { if (!goalsPending) { goalsPending = true; requestAnimationFrame(() => { goalsPending = false; renderGoals(); }); } }
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
  stream("/api/events", { goal: (g) => { goals.set(g.goal, Object.assign(goals.get(g.goal) || {}, g)); scheduleGoals(); } });
}

// ---- The selected goal, beside the list. Its tree's states come from its event stream; what the stream does not
// carry (outputs, errors, why a task waits, the budget, the ledger, the answer, plan steps) is re-read from
// GET /api/goals/ID when the stream says something changed, at most every DETAIL_MIN_MS (longer when the read is slow).
const DETAIL_MIN_MS = 400;
let selected = null, goalStream = null, nodes = new Map(), framePending = false;
let details = new Map(), stepJoins = new Map(), openOutputs = new Set(), approvalKey = "";
let detailTimer = null, detailBusy = false, detailAgain = false, detailCost = 0;
function scheduleTree() { if (!framePending) { framePending = true; requestAnimationFrame(() => { framePending = false; renderTree(); }); } }
// A task event is the task's whole state as the stream knows it (a field it leaves out, like the drone of a task
// back to pending, is gone): it replaces the node, keeping only what the stream never carries (from /tasks).
const ONLY_FROM_TASKS = ["waiting", "failed_attempts"];
function upsert(t) {
  const old = nodes.get(t.task) || {};
  const kept = Object.fromEntries(ONLY_FROM_TASKS.filter((k) => k in old).map((k) => [k, old[k]]));
  nodes.set(t.task, Object.assign(kept, t));
  scheduleTree();
  scheduleDetail();
}
function scheduleDetail() {
  if (detailTimer || !selected) return;
  detailTimer = setTimeout(() => { detailTimer = null; refreshDetail(); }, Math.max(DETAIL_MIN_MS, detailCost * 3));
}
async function fetchResult(goal) {
  const pages = await apiPages(`/api/goals/${encodeURIComponent(goal)}`);
  const result = pages[0];
  result.tasks = pages.flatMap((p) => p.tasks || []);
  return result;
}
async function refreshDetail() {
  if (detailBusy) { detailAgain = true; return; }
  detailBusy = true;
  const goal = selected, started = performance.now();
  try {
    const r = await fetchResult(goal);
    if (goal === selected) renderDetail(r);
  } catch (e) { showError(e); }
  finally {
    detailBusy = false;
    detailCost = performance.now() - started;
    if (detailAgain) { detailAgain = false; scheduleDetail(); }
  }
}

// A task's output (or error), folded to its first line; the whole text once opened (built only then).
function outputBox(t, d) {
  const text = d.output ?? "", error = d.error ?? "";
  if (!text && !error) return null;
  const shown = text || error;
  const first = shown.split("\n", 1)[0];
  const head = first.length > 100 ? first.slice(0, 100) + "…" : first;
  const box = el("details", { class: "output", "data-task": t.task, "data-error": String(!text && !!error), open: openOutputs.has(t.task) },
    el("summary", {}, `${text ? "output" : "error"} · ${shown.length} chars${d.exit_code !== undefined && d.exit_code !== null ? ` · exit ${d.exit_code}` : ""} · ${head}`));
  const pre = el("pre", { class: "full" });
  const fill = () => { if (!pre.textContent) pre.textContent = shown + (text && error ? "\n\nerror: " + error : ""); };
  if (box.open) fill();
  box.addEventListener("toggle", () => { if (box.open) { openOutputs.add(t.task); fill(); } else openOutputs.delete(t.task); });
  box.append(pre);
  return box;
}
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
      const d = details.get(t.task) || {};
      const join = t.join || (t.kind === "step" ? stepJoins.get(t.name) : undefined);
      const label = el("span", { class: "node", "data-task": t.task, "data-state": t.state, "data-kind": t.kind },
        el("span", { class: "id" }, t.task),
        el("span", { class: "kind" }, t.role ? `${t.kind} · ${t.role}` : t.kind),
        t.name ? el("span", { class: "step-name", title: t.kind === "step" ? "plan step" : "name" }, t.kind === "step" ? `step ${t.name}` : t.name) : "",
        join ? el("span", { class: "join", "data-join": join, title: "join" }, `join ${join}`) : "",
        el("span", { class: "badge", "data-state": t.state }, t.state));
      if (t.drone) label.append(el("span", { class: "drone-name" }, "@" + t.drone + (t.tier ? ` (${t.tier})` : "")));
      if (t.attempts > 1) label.append(el("span", { class: "retry", title: "attempts: retried after a failure, an expired lease or a lost drone" }, `×${t.attempts}`));
      if (t.round) label.append(el("span", { class: "extra", title: "re-fork round" }, `round ${t.round + 1}`));
      if (d.wall_ms) label.append(el("span", { class: "extra" }, seconds(d.wall_ms)));
      if (d.usage) label.append(el("span", { class: "extra" }, `${d.usage.prompt_tokens + d.usage.generated_tokens} tokens`));
      if (t.reason) label.append(el("span", { class: "extra reason-text" }, t.reason));
      // The latest re-read knows best; the tree's first load is the fallback until then.
      const waiting = t.state === "pending" ? (details.has(t.task) ? d.waiting : t.waiting) : null;
      if (waiting) label.append(el("span", { class: "extra waiting" }, "waiting: " + waiting));
      if (t.approved_by) label.append(el("span", { class: "extra" }, `approved by ${t.approved_by}`));
      const li = el("li", {}, label);
      // Why earlier attempts ended (lease expired, drone lost, output refused…): the reason it was retried.
      const notes = (details.has(t.task) ? d.failed_attempts : t.failed_attempts) || [];
      if (notes.length) li.append(el("ul", { class: "attempts", "data-task": t.task },
        ...notes.map((n) => el("li", { "data-attempt": String(n.attempt) }, `attempt ${n.attempt} on ${n.drone || "-"}: ${n.reason}`))));
      if (!structural(t.kind)) { const out = outputBox(t, d); if (out) li.append(out); }
      const sub = build(t.task);
      if (sub) li.append(sub);
      ul.append(li);
    }
    return ul;
  };
  $("tree").replaceChildren(build("") || el("p", { class: "mute" }, "no tasks"));
  renderApprovals();
}

// Tasks awaiting approval: what each will run, where, who proposed it and why; for operators Approve, or Deny
// with a reason. Rebuilt only when the set of waiting tasks changes, so a reason being typed survives.
function renderApprovals() {
  const waiting = [...nodes.values()].filter((t) => t.state === "awaiting_approval" && t.approval);
  const key = waiting.map((t) => t.task).sort().join(",");
  if (key === approvalKey) return;
  approvalKey = key;
  $("approvals-box").hidden = !waiting.length;
  $("approvals").replaceChildren(...waiting.map(approvalBox));
}
function approvalBox(t) {
  const a = t.approval;
  const where = a.drone ? `on ${a.drone}` : a.tier ? `on a ${a.tier} drone` : "on any drone";
  const box = el("div", { class: "approval", "data-task": t.task },
    el("div", {}, el("b", {}, `${t.task} awaits approval: `), el("code", {}, a.runs), ` ${where}`),
    el("div", { class: "mute" }, `proposed by ${a.proposed_by} · ${a.why}`));
  if (!mayChange) return box;
  const decide = (verb, body) => api(`/api/goals/${encodeURIComponent(t.goal || selected)}/${verb}`,
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }).catch(showError);
  const approve = el("button", { class: "approve" }, "Approve");
  approve.onclick = () => { approve.disabled = true; decide("approve", { tasks: [t.task] }); };
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

// The goal's answer, budget (limits beside what is spent and reserved), ledger, why work waits, and plan steps.
function renderDetail(r) {
  const g = r.goal || {};
  details = new Map((r.tasks || []).map((t) => [t.task, t]));
  stepJoins = new Map((r.steps || []).map((s) => [s.id, s.join]));
  showGoalState(g);
  $("answer-box").hidden = r.answer === undefined || r.answer === null;
  $("answer").textContent = r.answer ?? "";
  renderBudget(g);
  renderLedger(r.ledger || {});
  const waits = g.waiting || [];
  $("waiting-box").hidden = !waits.length;
  $("waiting").replaceChildren(...waits.map((w) => el("li", { "data-blocker": w.blocker, "data-task": w.task },
    `${w.tasks > 1 ? `tasks ${w.task} and ${w.tasks - 1} more` : `task ${w.task}`} (${w.kind}, tier ${w.tier || "any"}): ${w.reason}`)));
  renderSteps(r.steps || []);
  scheduleTree();
}
function renderBudget(g) {
  const b = g.budget || {}, box = $("budget");
  box.replaceChildren();
  const stat = (name, spent, max, extra = "") => {
    const over = max !== undefined && max !== null && spent >= max;
    box.append(el("div", { "data-budget": name, "data-over": String(over) },
      el("b", {}, `${spent}${max !== undefined && max !== null ? ` / ${max}` : ""}`), name + extra));
  };
  stat("tasks", g.tasks ?? 0, b.max_tasks);
  stat("tokens", g.tokens_spent ?? 0, b.max_tokens, g.tokens_reserved ? ` (${g.tokens_reserved} reserved)` : "");
  for (const [tier, max] of Object.entries(b.max_tokens_by_tier || {})) stat(`${tier} tokens`, (g.tier_tokens || {})[tier] ?? 0, max);
  stat("core calls", g.core_calls ?? 0, b.max_core_calls);
  if (b.max_cost !== undefined || g.cost_spent) stat("cost", Number(g.cost_spent ?? 0).toFixed(4), b.max_cost);
  if (b.deadline_ms) box.append(el("div", { "data-budget": "deadline" }, el("b", {}, seconds(b.deadline_ms)), "deadline"));
}
function renderLedger(l) {
  const t = l.total || {}, box = $("ledger");
  box.replaceChildren();
  const stat = (name, value) => box.append(el("div", { "data-ledger": name }, el("b", {}, value), name));
  stat("calls", t.calls ?? 0);
  stat("tokens", (t.prompt_tokens ?? 0) + (t.generated_tokens ?? 0));
  stat("task time", seconds(t.task_ms));
  stat("wall time", seconds(l.wall_ms));
  stat("parallel", `${(l.parallel_speedup ?? 0).toFixed(1)}×`);
  stat("core share", `${Math.round((l.core_share ?? 0) * 100)}%`);
  for (const [tier, line] of Object.entries(l.by_tier || {})) {
    stat(`${tier}: calls · tokens · time`, `${line.calls} · ${line.prompt_tokens + line.generated_tokens} · ${seconds(line.task_ms)}`);
  }
  if (l.candidates_proposed) stat("candidates used", `${l.candidates_accepted}/${l.candidates_proposed}`);
  if (l.retries) stat("retries", l.retries);
  if (l.reforks) stat("re-forks", l.reforks);
}
function renderSteps(steps) {
  const box = $("steps");
  box.replaceChildren();
  for (const s of steps) {
    const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "candidate"), el("th", {}, "drone"),
      el("th", {}, "check"), el("th", {}, "score"), el("th", {}, "judges"), el("th", {}, "output"))));
    const tb = el("tbody");
    for (const c of s.candidates) {
      const text = c.output || c.rejection || "";
      tb.append(el("tr", { class: "cand", "data-task": c.task, "data-accepted": String(c.accepted) },
        el("td", {}, `${c.task} r${c.round + 1}`), el("td", {}, `${c.drone || ""}${c.tier ? ` (${c.tier})` : ""}`),
        el("td", {}, c.verified === undefined || c.verified === null ? "" : c.verified ? "pass" : "fail"),
        el("td", {}, c.score === undefined || c.score === null ? "" : c.score.toFixed(2)),
        el("td", {}, (c.judges || []).map((j) => `${j.drone || j.task}: ${j.score ?? "?"}`).join(", ")),
        el("td", {}, text ? outputBox({ task: "cand-" + c.task }, { output: c.output, error: c.rejection }) : "")));
    }
    table.append(tb);
    box.append(el("div", { class: "step", "data-step": s.id, "data-state": s.state },
      el("h3", {}, `step ${s.id} · ${s.role} · join ${s.join} · ${s.state}${s.rounds > 1 ? ` · ${s.rounds} rounds` : ""}`), table,
      s.reason ? el("p", { class: "reason" }, s.reason) : "",
      s.integrator ? el("p", { class: "mute" }, `integrated by ${s.integrator_drone || s.integrator}`) : ""));
  }
}
function showGoalState(g) {
  if (!g.state) return;
  const badge = $("goal-state");
  badge.textContent = g.state;
  badge.dataset.state = g.state;
  $("goal-panel").dataset.state = g.state;
  if (g.name) $("goal-title").textContent = `${selected} · ${g.name}`;
  $("goal-reason").hidden = !g.reason;
  $("goal-reason").textContent = g.reason || "";
  $("cancel").disabled = final(g.state) || !mayChange;
  if (final(g.state)) $("confirm-cancel").hidden = true;
}
async function select(goal) {
  if (goalStream) goalStream.close();
  $("confirm-cancel").hidden = true;
  selected = goal;
  nodes = new Map(); details = new Map(); stepJoins = new Map(); openOutputs = new Set(); approvalKey = "";
  history.replaceState(null, "", "?goal=" + encodeURIComponent(goal));
  renderGoals();
  $("goal-empty").hidden = true;
  $("goal-body").hidden = false;
  $("goal-title").textContent = goal;
  for (const id of ["budget", "ledger", "steps", "waiting", "approvals"]) $(id).replaceChildren();
  $("answer-box").hidden = true;
  const tasks = await apiAll(`/api/goals/${encodeURIComponent(goal)}/tasks`);
  if (selected !== goal) return; // another goal was picked while this one loaded
  for (const t of tasks) upsert(t);
  goalStream = stream(`/api/goals/${encodeURIComponent(goal)}/events`, {
    task: upsert,
    goal: (g) => {
      showGoalState(g);
      if (final(g.state)) { refreshDetail(); refreshDrones(); } else scheduleDetail();
    },
    overflow: () => select(goal),
  });
  refreshDetail();
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
  if (goal) api(`/api/goals/${encodeURIComponent(goal)}/cancel`, { method: "POST", headers: { "Content-Type": "application/json" } }).catch(showError);
};

async function start() {
  const who = await api("/api/session");
  csrf = who.csrf;
  mayChange = who.role === "operator";
  document.body.dataset.role = who.role;
  if (who.auth_required) {
    $("who").textContent = `${who.principal} (${who.role})`;
    $("logout").hidden = false;
    $("logout").onclick = async () => {
      leaving = true;
      timers.forEach(clearInterval);
      for (const es of [...streams]) es.close();  // a stream cut by the logout would reconnect into a 401
      for (const until = Date.now() + 5000; inflight > 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
      fetch("/logout", { method: "POST", headers: { "Content-Type": "application/json", "X-Hive-CSRF": csrf || "" } })
        .finally(() => location.reload());
    };
  }
  if (!mayChange) $("cancel").hidden = true;
  refreshDrones();
  timers.push(setInterval(refreshDrones, 2000));
  sampleRate();
  timers.push(setInterval(sampleRate, 1000));
  await loadGoals();
  if (params.get("goal")) await select(params.get("goal"));
}
start().catch(showError);

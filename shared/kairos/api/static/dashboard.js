// Kairos operator dashboard: plain browser JavaScript, no build step.
// Reads the API with a bearer token, follows the live stream (server-sent events read with
// fetch so the token stays in a header), and steers through the same endpoints as any client.
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);
let session = JSON.parse(sessionStorage.getItem("kairos-session") || "null");
let streamAbort = null;

function keyFor(action) { return `${action.replace(/\s+/g, "-")}-${Date.now()}-${Math.random().toString(16).slice(2, 10)}`; }

async function call(path, options = {}) {
  const headers = Object.assign({"Content-Type": "application/json"}, options.headers || {});
  if (session) headers.Authorization = `Bearer ${session.access_token}`;
  let answer = await fetch(API + path, Object.assign({}, options, {headers}));
  if (answer.status === 401 && session && !options.retried) {
    if (await refresh()) return call(path, Object.assign({}, options, {retried: true}));
  }
  return answer;
}

async function refresh() {
  const answer = await fetch(API + "/auth/refresh", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({refresh_token: session.refresh_token})});
  if (!answer.ok) { logout(); return false; }
  save(await answer.json());
  return true;
}

function save(tokens) { session = tokens; sessionStorage.setItem("kairos-session", JSON.stringify(tokens)); }

function logout() {
  session = null; sessionStorage.removeItem("kairos-session");
  if (streamAbort) streamAbort.abort();
  $("app").hidden = true; $("login").hidden = false;
}

// Every write carries a fresh Idempotency-Key; the answer (or the refusal, 403 for a role that
// may not) is shown in the message line.
async function send(path, body, action, method = "POST") {
  const answer = await call(path, {method, body: JSON.stringify(body || {}),
    headers: {"Idempotency-Key": keyFor(action)}});
  const doc = await answer.json().catch(() => ({}));
  const error = doc.error || {};
  let text = `${action}: done`;
  if (answer.status === 403) text = `${action}: 403 refused — your role (${session.user.role}) may not do this`;
  else if (!answer.ok) text = `${action}: ${answer.status} ${error.reason || ""}` +
    (error.fields || []).map((f) => ` [${[].concat(f.loc).join(".")}: ${f.msg}]`).join("");
  $("message").textContent = text;
  $("message").className = "message" + (answer.ok ? "" : " refused");
  return {ok: answer.ok, status: answer.status, doc};
}

async function write(path, body, action) { return (await send(path, body, action)).ok; }

function cell(row, text, cls) { const td = row.insertCell(); td.textContent = text == null ? "–" : text; if (cls) td.className = cls; return td; }
function signed(value) { const n = Number(value); return n > 0 ? "pos" : n < 0 ? "neg" : ""; }
function time(iso) { return iso ? new Date(iso).toLocaleTimeString() : "–"; }
function fill(id, rows, draw) { const body = $(id).tBodies[0]; body.textContent = ""; rows.forEach((r) => draw(body.insertRow(), r)); }

const render = {
  positions(data, asOf) {
    $("positions-asof").textContent = `as of ${time(asOf)}`;
    fill("positions", data, (tr, p) => {
      tr.dataset.position = p.position_id;
      cell(tr, p.symbol); cell(tr, p.side); cell(tr, p.quantity); cell(tr, p.entry_price); cell(tr, p.mark_price);
      cell(tr, p.unrealised_pnl, signed(p.unrealised_pnl));
      const state = p.protection.state;
      cell(tr, state, "prot-" + state.split(" ")[0]);
      cell(tr, p.account); cell(tr, p.mode);
    });
    updateSymbols(data.map((p) => p.symbol));
  },
  pnl(data, asOf) {
    $("pnl-realised").textContent = data.realised; $("pnl-realised").className = signed(data.realised);
    $("pnl-unrealised").textContent = data.unrealised; $("pnl-unrealised").className = signed(data.unrealised);
    $("pnl-fees").textContent = data.fees; $("pnl-open").textContent = data.open_positions;
    $("pnl-asof").textContent = time(asOf);
  },
  orders(data) { fill("orders", data, (tr, o) => { cell(tr, o.id); cell(tr, o.symbol); cell(tr, o.side); cell(tr, o.order_type); cell(tr, o.quantity); cell(tr, o.state); }); },
  fills(data) { fill("fills", data, (tr, f) => { tr.dataset.fill = f.id; cell(tr, f.id); cell(tr, f.symbol); cell(tr, f.side); cell(tr, f.quantity); cell(tr, f.price); cell(tr, time(f.traded_at)); }); },
  alerts(data) {
    const list = $("alerts"); list.textContent = "";
    data.forEach((a) => { const li = document.createElement("li"); li.className = "sev-" + (a.severity || "info");
      li.textContent = `${time(a.at)} ${a.severity || ""} ${a.code || ""} ${a.message || a.summary || ""}`; list.appendChild(li); });
  },
  prices(data) { updateSymbols(data.map((m) => m.symbol)); },
  kill_switch(data) {
    fill("switches", data.switches || [], (tr, w) => {
      tr.dataset.switch = `${w.scope}:${w.scope_id}`; cell(tr, w.scope); cell(tr, w.scope_id); cell(tr, w.reason);
    });
    const badge = $("kill-state");
    badge.textContent = data.engaged ? `KILL SWITCH ENGAGED: ${data.reason}` : "trading allowed";
    badge.className = "badge " + (data.engaged ? "on" : "ok");
    $("kill-engage").disabled = data.engaged; $("kill-release").disabled = !data.engaged;
  },
};

function updateSymbols(symbols) {
  const select = $("chart-symbol");
  const known = new Set(Array.from(select.options).map((o) => o.value));
  symbols.forEach((s) => { if (!known.has(s)) { select.add(new Option(s, s)); known.add(s); } });
  if (select.options.length && !chartLoaded) { chartLoaded = true; drawChart(); }
}

async function stream() {
  streamAbort = new AbortController();
  const answer = await call("/stream", {signal: streamAbort.signal}).catch(() => null);
  if (!answer || !answer.ok) { $("live").textContent = "offline"; setTimeout(stream, 2000); return; }
  $("live").textContent = "live"; $("live").className = "badge ok";
  const reader = answer.body.getReader(); const decoder = new TextDecoder(); let buffer = "";
  try {
    for (;;) {
      const {value, done} = await reader.read(); if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const chunk = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        const name = (chunk.match(/^event: (.*)$/m) || [])[1]; const data = (chunk.match(/^data: (.*)$/m) || [])[1];
        if (name && data && render[name]) { const doc = JSON.parse(data); render[name](doc.data, doc.as_of); }
      }
    }
  } catch (e) { /* aborted or dropped */ }
  $("live").textContent = "offline"; $("live").className = "badge";
  if (session) setTimeout(stream, 1000);
}

async function loadStrategies() {
  const answer = await call("/strategies");
  if (answer.status === 404) { $("strategies-note").textContent = "strategies are not served by this API version"; return; }
  if (!answer.ok) return;
  const doc = await answer.json();
  fill("strategies", doc.items, (tr, s) => {
    tr.dataset.strategy = s.strategy_id;
    cell(tr, s.strategy_id); cell(tr, s.state); cell(tr, s.running_version || s.latest_version);
    const td = tr.insertCell(); const button = document.createElement("button");
    const running = s.state === "RUNNING";
    button.textContent = running ? "Stop" : "Start"; button.className = running ? "danger" : "";
    button.dataset.action = running ? "stop" : "start";
    button.onclick = async () => {
      const path = `/strategies/${encodeURIComponent(s.strategy_id)}/${button.dataset.action}`;
      if (await write(path, {reason: "from the dashboard"}, `strategy ${button.dataset.action}`)) loadStrategies();
    };
    td.appendChild(button);
  });
}

// Strategies: validate a pasted document (YAML or JSON text, parsed by the API as the CLI
// parses a file) and store it as the strategy's next version.
function showProblems(fields) {
  fill("strategy-problems", fields || [], (tr, f) => {
    tr.dataset.path = f.loc || "(document)";
    cell(tr, f.loc || "(document)"); cell(tr, f.expected || f.msg); cell(tr, f.found);
  });
}

async function validateStrategy() {
  const answer = await call("/strategies/validate", {method: "POST", body: JSON.stringify({text: $("strategy-doc").value})});
  const doc = await answer.json().catch(() => ({}));
  if (!answer.ok) { $("strategy-result").textContent = `validate: ${answer.status} ${(doc.error || {}).reason || ""}`; showProblems((doc.error || {}).fields); return; }
  $("strategy-result").textContent = doc.valid ? `valid: strategy ${doc.strategy_id}` : `not valid: ${doc.fields.length} problem(s)`;
  $("strategy-result").className = doc.valid ? "note ok" : "note error";
  showProblems(doc.valid ? [] : doc.fields);
}

async function createStrategy() {
  const result = await send("/strategies", {text: $("strategy-doc").value}, "strategy create");
  const error = result.doc.error || {};
  showProblems(result.ok ? [] : error.fields);
  $("strategy-result").textContent = result.ok
    ? `${result.doc.created ? "created" : "unchanged"}: ${result.doc.strategy_id} version ${result.doc.version}`
    : $("message").textContent;
  $("strategy-result").className = result.ok ? "note ok" : "note error";
  if (result.ok) loadStrategies();
}

// Risk: limits per scope (setting one is a new version, as `kairos risk limits` does), kill
// switches per scope, and the guardian's recent decisions with their reasons.
async function loadRisk() {
  const limits = await call("/risk/limits");
  if (limits.ok) {
    const doc = await limits.json();
    $("risk-asof").textContent = `as of ${time(doc.as_of)}`;
    fill("limits", doc.items, (tr, l) => {
      tr.dataset.limit = `${l.scope_kind}:${l.scope_id}:${l.name}`;
      cell(tr, l.scope_kind); cell(tr, l.scope_id); cell(tr, l.name); cell(tr, l.value); cell(tr, l.version);
      cell(tr, l.set_by); cell(tr, l.reason); cell(tr, time(l.set_at));
    });
  }
  const switches = await call("/kill-switch");
  if (switches.ok) render.kill_switch(await switches.json());
  const decisions = await call("/risk/decisions?limit=100");
  if (decisions.ok) {
    const rejectedOnly = $("decisions-rejected").checked;
    const items = (await decisions.json()).items.filter((d) => !rejectedOnly || d.outcome !== "approved");
    fill("decisions", items.slice(0, 30), (tr, d) => {
      cell(tr, time(d.decided_at)); cell(tr, d.outcome, d.outcome === "approved" ? "pos" : "neg");
      cell(tr, d.reason_code); cell(tr, d.account); cell(tr, d.strategy_id); cell(tr, d.symbol); cell(tr, d.message);
    });
  }
}

async function setLimit(event) {
  event.preventDefault();
  const value = $("limit-value").value.trim();
  const body = {scope: $("limit-scope").value, scope_id: $("limit-scope-id").value.trim() || "*",
    name: $("limit-name").value.trim(), value: value === "" ? null : value, reason: $("limit-reason").value};
  if ((await send("/risk/limits", body, "risk limit", "PUT")).ok) loadRisk();
}

async function killSwitch(engaged) {
  const reason = $("switch-reason").value || (engaged ? "engaged from the dashboard" : "released from the dashboard");
  const body = {engaged, reason, scope: $("switch-scope").value, scope_id: $("switch-scope-id").value.trim() || "*"};
  if (await write("/kill-switch", body, engaged ? "kill switch engage" : "kill switch release")) loadRisk();
}

// Dead letters: list (per function), show one, replay it to its original topic (admin), as
// `kairos dlq list|show|replay` does. Kafka keeps a replayed letter, so it is marked, not removed.
let shownLetter = null;
async function loadDeadLetters() {
  const fn = $("dlq-function").value;
  const answer = await call("/dead-letters" + (fn ? `?function=${encodeURIComponent(fn)}` : ""));
  const doc = await answer.json().catch(() => ({}));
  if (!answer.ok) { $("dlq-note").textContent = `dead letters: ${answer.status} ${(doc.error || {}).reason || ""}`; return; }
  const select = $("dlq-function"); const known = new Set(Array.from(select.options).map((o) => o.value));
  doc.items.forEach((x) => { if (x.function && !known.has(x.function)) { select.add(new Option(x.function, x.function)); known.add(x.function); } });
  $("dlq-note").textContent = doc.items.length ? `${doc.items.length} dead letter(s)` : "no dead letters";
  fill("dead-letters", doc.items, (tr, x) => {
    tr.dataset.ref = x.ref; tr.className = x.replayed_at ? "replayed" : "";
    cell(tr, x.function); cell(tr, x.topic); cell(tr, x.time ? new Date(x.time).toLocaleString() : null); cell(tr, x.code);
    cell(tr, x.reason); cell(tr, x.replayed_at ? `replayed ${time(x.replayed_at)} by ${x.replayed_by}` : "no");
    const td = tr.insertCell(); const button = document.createElement("button");
    button.textContent = "Show"; button.className = "link"; button.onclick = () => showLetter(x.ref); td.appendChild(button);
  });
}

async function showLetter(ref) {
  const answer = await call(`/dead-letters/${encodeURIComponent(ref)}`);
  const doc = await answer.json().catch(() => ({}));
  if (!answer.ok) { $("dlq-note").textContent = `${ref}: ${answer.status} ${(doc.error || {}).reason || ""}`; return; }
  shownLetter = ref;
  $("dlq-ref").textContent = ref; $("dlq-original").textContent = doc.original_topic;
  $("dlq-data").textContent = JSON.stringify(doc.data, null, 2);
  $("dlq-error").textContent = JSON.stringify(doc.error, null, 2);
  $("dlq-attributes").textContent = JSON.stringify(doc.attributes, null, 2);
  $("dlq-fix").value = ""; $("dlq-detail").hidden = false;
}

async function replayLetter() {
  if (!shownLetter) return;
  const fix = $("dlq-fix").value.trim(); let body = {};
  if (fix) {
    try { body = {data: JSON.parse(fix)}; } catch (e) { $("message").textContent = `replay: the fixed payload is not JSON (${e.message})`; return; }
  }
  if ((await send(`/dead-letters/${encodeURIComponent(shownLetter)}/replay`, body, "dead letter replay")).ok) loadDeadLetters();
}

let chartLoaded = false;
async function drawChart() {
  const symbol = $("chart-symbol").value; if (!symbol) return;
  const tf = $("chart-timeframe").value;
  const answer = await call(`/ohlcv/${symbol}?timeframe=${tf}&limit=120`);
  const candles = answer.ok ? (await answer.json()).items : [];
  let signals = [];
  const s = await call(`/signals?symbol=${encodeURIComponent(symbol)}&limit=200`);
  if (s.ok) signals = (await s.json()).items || [];
  const canvas = $("chart"); const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  $("chart-note").textContent = candles.length ? `${candles.length} candles, ${signals.length} signals` : "no candles stored for this symbol yet";
  if (!candles.length) return;
  const lows = candles.map((c) => Number(c.low)), highs = candles.map((c) => Number(c.high));
  const lo = Math.min(...lows), hi = Math.max(...highs), span = hi - lo || 1;
  const w = canvas.width / candles.length, y = (p) => canvas.height - 10 - ((p - lo) / span) * (canvas.height - 20);
  const index = new Map(candles.map((c, i) => [c.open_time, i]));
  candles.forEach((c, i) => {
    const up = Number(c.close) >= Number(c.open); ctx.strokeStyle = ctx.fillStyle = up ? "#3fb950" : "#f85149";
    const x = i * w + w / 2; ctx.beginPath(); ctx.moveTo(x, y(c.high)); ctx.lineTo(x, y(c.low)); ctx.stroke();
    const top = y(Math.max(c.open, c.close)); ctx.fillRect(x - w * 0.35, top, w * 0.7, Math.max(1, y(Math.min(c.open, c.close)) - top));
  });
  signals.forEach((sig) => {
    const i = index.get(sig.candle_open_time); if (i === undefined) return;
    const buy = (sig.side || sig.action || "").includes("buy") || (sig.action || "").startsWith("enter_long");
    ctx.fillStyle = buy ? "#58a6ff" : "#f0883e"; const x = i * w + w / 2;
    ctx.beginPath(); ctx.arc(x, buy ? y(candles[i].low) + 8 : y(candles[i].high) - 8, 4, 0, 7); ctx.fill();
  });
}

async function loadBacktests() {
  const answer = await call("/backtests?limit=10");
  if (answer.status === 404) { $("backtests-note").textContent = "backtests are not served by this API version"; return; }
  if (!answer.ok) return;
  const items = (await answer.json()).items || [];
  const list = $("backtests"); list.textContent = "";
  items.forEach((b, n) => { const li = document.createElement("li"); li.textContent = `${b.run_id || b.id}: ${b.strategy_id || ""} ${b.summary || ""}`;
    li.onclick = () => drawEquity(b.run_id || b.id); list.appendChild(li); if (n === 0) drawEquity(b.run_id || b.id); });
  if (!items.length) $("backtests-note").textContent = "no backtests yet";
}

async function drawEquity(id) {
  const answer = await call(`/backtests/${encodeURIComponent(id)}/chart`); if (!answer.ok) return;
  const points = (await answer.json()).equity || [];
  const canvas = $("equity"); const ctx = canvas.getContext("2d"); ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (points.length < 2) return;
  const values = points.map((p) => Number(p.equity)); const lo = Math.min(...values), hi = Math.max(...values), span = hi - lo || 1;
  ctx.strokeStyle = "#58a6ff"; ctx.beginPath();
  values.forEach((v, i) => { const x = (i / (values.length - 1)) * canvas.width, yy = canvas.height - 8 - ((v - lo) / span) * (canvas.height - 16);
    if (i) ctx.lineTo(x, yy); else ctx.moveTo(x, yy); });
  ctx.stroke();
}

async function start() {
  $("login").hidden = true; $("app").hidden = false;
  $("whoami").textContent = `${session.user.username} (${session.user.role})`;
  const trader = session.user.role !== "viewer";
  ["kill-engage", "kill-release"].forEach((id) => { $(id).hidden = !trader; });
  const rank = {viewer: 0, trader: 1, admin: 2}[session.user.role] || 0;
  document.querySelectorAll(".writes").forEach((el) => { if (rank < 1) el.title = "your role may not: the API answers 403"; });
  document.querySelectorAll(".admin-only").forEach((el) => { if (rank < 2) el.title = "admins only: the API answers 403"; });
  stream(); loadStrategies(); loadBacktests(); loadRisk(); loadDeadLetters();
  setInterval(() => { loadStrategies(); loadRisk(); }, 5000);
  setInterval(() => { if ($("chart-symbol").value) drawChart(); }, 15000);
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const answer = await fetch(API + "/auth/login", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({username: $("username").value, password: $("password").value})});
  if (!answer.ok) { $("login-error").textContent = answer.status === 429 ? "too many attempts; wait" : "wrong user name or password"; return; }
  save(await answer.json()); start();
});
$("logout").onclick = logout;
$("kill-engage").onclick = () => write("/kill-switch", {engaged: true, reason: "engaged from the dashboard"}, "kill switch engage");
$("kill-release").onclick = () => write("/kill-switch", {engaged: false, reason: "released from the dashboard"}, "kill switch release");
$("strategy-validate").onclick = validateStrategy;
$("strategy-create").onclick = createStrategy;
$("limit-form").addEventListener("submit", setLimit);
$("switch-form").addEventListener("submit", (event) => { event.preventDefault(); killSwitch(true); });
$("switch-release").onclick = () => killSwitch(false);
$("decisions-rejected").onchange = loadRisk;
$("dlq-function").onchange = loadDeadLetters;
$("dlq-refresh").onclick = loadDeadLetters;
$("dlq-replay").onclick = replayLetter;
$("chart-symbol").onchange = drawChart; $("chart-timeframe").onchange = drawChart;
if (session) start();

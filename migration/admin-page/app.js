// The operator page (docs/migration.md, "The operator page"): plain JavaScript, no build step. It reads
// the admin API of the node that served it with the admin session cookie, and renders with textContent
// only: user ids and client versions come from clients and are never interpreted as HTML.

const API = "/api/admin/migration";
const REFRESH_MS = 5_000;
/** The history is per minute, and reading it costs shared state a command per minute of range. */
const HISTORY_REFRESH_MS = 60_000;
const MODES = ["on", "warn", "drain", "off"];
/** Share series: every generation but current, whose share is what the rollout wants to see fall. */
const SERIES = [
  { generation: "legacy", stroke: "#b3261e" },
  { generation: "socket-unversioned", stroke: "#a15c00" },
  { generation: "socket-v1", stroke: "#6b46c1" },
  { generation: "socket-v1-acked", stroke: "#2457c5" },
];

const $ = (id) => document.getElementById(id);
let timer = null;
let chart = null;
/** The x range of the chart (unix seconds): the selected period, whatever data it has. */
let chartRange = [0, 1];
let historyRead = { at: 0, range: 0 };

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.append(cell);
    else td.textContent = cell === null || cell === undefined ? "" : String(cell);
    tr.append(td);
  }
  return tr;
}

const duration = (ms) => (ms % 86_400_000 === 0 ? `${ms / 86_400_000} d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 1000)} s`);
const when = (ms) => (ms === null || ms === undefined ? "never" : new Date(ms).toLocaleString());

function modeBadge(mode) {
  return el("span", mode, `mode mode-${mode}`);
}

async function api(path, init = {}) {
  const res = await fetch(`${API}${path}`, { credentials: "same-origin", ...init, headers: { "content-type": "application/json", ...(init.headers ?? {}) } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(body.error ?? `HTTP ${res.status}`), { status: res.status });
  return body;
}

function showLogin(message) {
  clearInterval(timer);
  $("dashboard").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("who").textContent = "";
  $("login-error").textContent = message ?? "";
}

async function login(event) {
  event.preventDefault();
  const key = $("login-key").value.trim();
  $("login-error").textContent = "";
  const res = await fetch("/api/auth/session", { method: "POST", credentials: "same-origin", headers: { "x-api-key": key } });
  const body = await res.json().catch(() => ({}));
  $("login-key").value = "";
  if (!res.ok) return showLogin(`Login refused: ${body.error ?? res.status}`);
  if (!body.admin) {
    await fetch("/api/auth/session", { method: "DELETE", credentials: "same-origin" });
    return showLogin(`Refused: ${body.userId} has no admin scope. Use a key made with keys create --admin.`);
  }
  start();
}

async function logout() {
  await fetch("/api/auth/session", { method: "DELETE", credentials: "same-origin" });
  showLogin("Logged out.");
}

async function changeMode(generation, mode) {
  const target = mode === "default" ? "the nodes' boot default" : mode;
  if (!window.confirm(`Set ${generation} to ${target} on every node of the cluster?`)) return;
  try {
    if (mode === "default") await api(`/modes/${generation}`, { method: "DELETE" });
    else await api(`/modes/${generation}`, { method: "PUT", body: JSON.stringify({ mode }) });
    $("error").textContent = "";
  } catch (err) {
    $("error").textContent = `Could not change ${generation}: ${err.message}`;
  }
  await refresh();
}

function renderGenerations(status) {
  const body = $("generations").querySelector("tbody");
  body.replaceChildren();
  for (const g of status.generations) {
    const applied = `${g.applied.nodes.filter((n) => n.mode === g.mode.mode).length}/${g.applied.nodes.length}`;
    const kinds = Object.entries(g.live.byKind).map(([k, n]) => `${k} ${n}`).join(", ");
    const verdict = g.generation === "current" ? el("span", "—", "muted") : g.verdict.safeToTurnOff ? el("span", "safe to turn off", "safe") : el("span", `not yet: ${g.verdict.reasons.join("; ")}`, "unsafe");
    const mode = el("span");
    mode.append(modeBadge(g.mode.mode), el("span", ` ${g.mode.source}${g.mode.changedBy ? ` · ${g.mode.changedBy}` : ""}`, "muted"));
    let control = el("span", "always on", "muted");
    if (g.generation !== "current") {
      control = document.createElement("span");
      const select = document.createElement("select");
      select.setAttribute("aria-label", `mode of ${g.generation}`);
      select.dataset.generation = g.generation;
      for (const m of [...MODES, "default"]) {
        const option = el("option", m);
        option.value = m;
        if (m === g.mode.mode && g.mode.source === "runtime") option.selected = true;
        select.append(option);
      }
      if (g.mode.source !== "runtime") select.value = "default";
      const apply = el("button", "Apply");
      apply.type = "button";
      apply.dataset.generation = g.generation;
      apply.addEventListener("click", () => changeMode(g.generation, select.value));
      control.append(select, " ", apply);
    }
    const tr = row([g.generation, mode, applied, `${g.live.total}${kinds ? ` (${kinds})` : ""}`, when(g.lastSeen), verdict, control]);
    tr.dataset.generation = g.generation;
    body.append(tr);
  }
}

function renderSubjects(status) {
  const body = $("subjects").querySelector("tbody");
  body.replaceChildren();
  for (const g of status.generations) {
    if (g.generation === "current") continue;
    for (const s of g.seen.subjects) {
      const tr = row([g.generation, s.kind, s.id, s.clientKinds.join(", "), s.clientVersions.join(", ") || "—", when(s.lastSeen), when(s.firstSeen)]);
      tr.dataset.generation = g.generation;
      body.append(tr);
    }
    if (g.seen.total > g.seen.subjects.length) body.append(row([g.generation, "", `… and ${g.seen.total - g.seen.subjects.length} more`, "", "", "", ""]));
  }
  if (!body.children.length) body.append(row(["", "", "nobody on an older generation within the window", "", "", "", ""]));
}

function renderNodes(status) {
  const body = $("nodes").querySelector("tbody");
  body.replaceChildren();
  for (const n of status.nodes) {
    const modes = status.generations
      .filter((g) => g.generation !== "current")
      .map((g) => `${g.generation} ${g.applied.nodes.find((a) => a.nodeId === n.nodeId)?.mode ?? "?"}`)
      .join(", ");
    const deprecated = Object.entries(n.deprecated).map(([g, c]) => `${g} ${c}`).join(", ") || "—";
    body.append(row([n.nodeId, n.live, modes, deprecated, when(n.at), when(n.startedAt)]));
  }
}

function renderChart(history, from, to) {
  chartRange = [Math.floor(from / 1000), Math.ceil(to / 1000)];
  const minutes = history.minutes;
  const xs = minutes.map((m) => m.minute * 60);
  const shares = SERIES.map(({ generation }) =>
    minutes.map((m) => {
      const total = Object.values(m.counts).reduce((a, b) => a + b, 0);
      return total === 0 ? 0 : (100 * (m.counts[generation] ?? 0)) / total;
    }),
  );
  const data = [xs, ...shares];
  const width = Math.max(320, $("chart").clientWidth - 16);
  if (chart) {
    chart.setSize({ width, height: 240 });
    chart.setData(data);
    return;
  }
  chart = new window.uPlot(
    {
      width,
      height: 240,
      scales: { x: { time: true, range: () => chartRange }, y: { range: [0, 100] } },
      axes: [{}, { label: "% of live connections" }],
      series: [{}, ...SERIES.map(({ generation, stroke }) => ({ label: generation, stroke, width: 2, value: (_u, v) => (v === null ? "—" : `${v.toFixed(1)} %`) }))],
    },
    data,
    $("chart"),
  );
}

async function refresh() {
  try {
    const range = Number($("range").value);
    const now = Date.now();
    const stale = now - historyRead.at >= HISTORY_REFRESH_MS || historyRead.range !== range;
    const [status, history] = await Promise.all([api("/status"), stale ? api(`/history?from=${now - range}&to=${now}`) : null]);
    renderGenerations(status);
    renderSubjects(status);
    renderNodes(status);
    if (history) {
      historyRead = { at: now, range };
      renderChart(history, now - range, now);
    }
    $("status-line").textContent = `From node ${status.node} at ${when(status.at)} · ${status.nodes.length} live node(s) · quiet window ${duration(status.windowMs)}`;
    $("error").textContent = "";
  } catch (err) {
    if (err.status === 401) return showLogin("Your session ended: log in again.");
    if (err.status === 403) return showLogin("Refused: this login has no admin scope.");
    $("error").textContent = `Could not load the status: ${err.message}`;
  }
}

async function start() {
  const me = await fetch("/api/auth/session", { credentials: "same-origin" }).then((r) => (r.ok ? r.json() : null));
  if (!me) return showLogin();
  $("who").textContent = `signed in as ${me.userId}`;
  $("login").hidden = true;
  $("dashboard").hidden = false;
  $("logout").hidden = false;
  await refresh();
  clearInterval(timer);
  timer = setInterval(refresh, REFRESH_MS);
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
$("range").addEventListener("change", refresh);
start();

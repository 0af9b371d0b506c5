// ELB's dashboard (/__erulb__/ui): everything it shows comes from the admin API of the node
// that serves it, refreshed on timers: the domains and their rule graphs (GET graph, drawn by
// graph-layout.js like `elbctl graph --format svg`), request rates (GET metrics, the
// Prometheus counters), the upstreams' servers and their health (GET upstream, twice a second),
// the fleet (GET fleet), certificates (GET cert, when the node has them) and the last changes
// (GET changes). Server actions go through PUT /__erulb__/upstream after a confirmation.
// With ELB_ADMIN_TOKEN the page asks for the token and sends it as a bearer header.
import { graphSvg } from "./graph-layout.js";

const API = "/__erulb__/";
const TOKEN_KEY = "elb-admin-token";
/** how many domains are drawn open at first */
const OPEN_AT_FIRST = 8;
let token = sessionStorage.getItem(TOKEN_KEY) ?? "";
let signedIn = false;

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const list = (v) => (Array.isArray(v) ? v : []);

class NeedToken extends Error {}

async function api(path, opts = {}) {
  const headers = { ...(opts.headers ?? {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(API + path, { ...opts, headers, cache: "no-store" });
  if (r.status === 403) {
    const body = await r.json().catch(() => ({}));
    if (/token/i.test(body.msg ?? "")) throw new NeedToken(body.msg);
    throw new Error(body.msg ?? "forbidden");
  }
  return r;
}

async function json(path) {
  const r = await api(path);
  const body = await r.json();
  if (r.status !== 200) throw new Error(`${path}: ${body.msg ?? r.status}`);
  return body;
}

function notice(text) {
  const n = $("notice");
  n.textContent = text ?? "";
  n.hidden = !text;
}

function ago(seconds) {
  const s = Math.max(0, Date.now() / 1000 - seconds);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

// ---- metrics: rates from two readings of the counters ------------------------------------

/** {name: [{labels, value}]} of the metrics text (only the families asked for). */
function parseMetrics(text, names) {
  const out = {};
  for (const n of names) out[n] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || !(m[1] in out)) continue;
    const labels = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\n/g, "\n").replace(/\\(.)/g, "$1");
    out[m[1]].push({ labels, value: Number(m[3]) });
  }
  return out;
}

let lastReading;
const rates = { domains: new Map(), servers: new Map() };

async function refreshMetrics() {
  const r = await api("metrics");
  if (r.status !== 200) return;
  const m = parseMetrics(await r.text(), ["elb_http_requests_total", "elb_upstream_requests_total"]);
  const reading = { t: performance.now(), domains: new Map(), errors: new Map(), servers: new Map() };
  for (const s of m.elb_http_requests_total) {
    const d = s.labels.domain;
    reading.domains.set(d, (reading.domains.get(d) ?? 0) + s.value);
    if (s.labels.code === "5xx") reading.errors.set(d, (reading.errors.get(d) ?? 0) + s.value);
  }
  for (const s of m.elb_upstream_requests_total) {
    const k = `${s.labels.upstream}|${s.labels.server}`;
    reading.servers.set(k, (reading.servers.get(k) ?? 0) + s.value);
  }
  if (lastReading) {
    const dt = (reading.t - lastReading.t) / 1000;
    for (const [d, n] of reading.domains) {
      const errs = (reading.errors.get(d) ?? 0) - (lastReading.errors.get(d) ?? 0);
      const all = n - (lastReading.domains.get(d) ?? 0);
      rates.domains.set(d, { rate: Math.max(0, all) / dt, errors: all > 0 ? Math.max(0, errs) / all : 0, total: n });
    }
    for (const [k, n] of reading.servers) rates.servers.set(k, Math.max(0, n - (lastReading.servers.get(k) ?? 0)) / dt);
  }
  lastReading = reading;
  for (const el of document.querySelectorAll("[data-rate-domain]")) el.textContent = rateText(el.dataset.rateDomain);
  for (const el of document.querySelectorAll("[data-rate-server]")) {
    const v = rates.servers.get(el.dataset.rateServer);
    el.textContent = v === undefined ? "" : v.toFixed(1);
  }
}

function rateText(domain) {
  const r = rates.domains.get(domain);
  if (!r) return "";
  return `${r.rate.toFixed(1)} req/s${r.errors > 0 ? `, ${(r.errors * 100).toFixed(1)}% 5xx` : ""} · ${r.total} total`;
}

// ---- domains and their graphs -------------------------------------------------------------

const drawn = new Map(); // domain -> JSON of the graph drawn

async function refreshGraphs() {
  const g = await json("graph?limit=1000");
  const box = $("domains");
  const names = Object.keys(g.domains ?? {}).sort();
  $("domains-count").textContent = g.total > names.length ? `(${names.length} of ${g.total} shown)` : `(${g.total})`;
  for (const [name, el] of [...box.children].map((c) => [c.dataset.domain, c])) {
    if (!names.includes(name)) {
      el.remove();
      drawn.delete(name);
    }
  }
  names.forEach((name, i) => {
    let el = box.querySelector(`[data-domain="${CSS.escape(name)}"]`);
    if (!el) {
      el = document.createElement("details");
      el.className = "domain";
      el.dataset.domain = name;
      if (drawn.size < OPEN_AT_FIRST) el.open = true;
      el.innerHTML = `<summary><h3>${esc(name)}</h3> <span class="rate" data-rate-domain="${esc(name)}"></span></summary><div class="graph"></div>`;
      const before = box.children[i];
      box.insertBefore(el, before ?? null);
    }
    const graph = g.domains[name];
    const text = JSON.stringify(graph);
    if (drawn.get(name) !== text) {
      el.querySelector(".graph").innerHTML = graphSvg(name, { ...graph, edges: list(graph.edges), nodes: list(graph.nodes) });
      drawn.set(name, text);
    }
    el.querySelector("[data-rate-domain]").textContent = rateText(name);
  });
  filterDomains();
}

function filterDomains() {
  const f = $("domain-filter").value.trim().toLowerCase();
  for (const el of $("domains").children) el.hidden = f !== "" && !el.dataset.domain.includes(f);
}

// ---- upstreams: servers, health, actions ----------------------------------------------------

const ACTIONS = {
  drain: { verb: "Drain", explain: "no new clients go to it; sticky ones stay" },
  enable: { verb: "Enable", explain: "back in service" },
  offline: { verb: "Take offline", explain: "no request goes to it" },
};

/** The server's params with the action's flags: drain adds drain, offline adds down, enable neither. */
export function paramsFor(params, action) {
  const kept = (params ?? "").split(/\s+/).filter((t) => t !== "" && t !== "drain" && t !== "down");
  if (action === "drain") kept.push("drain");
  if (action === "offline") kept.push("down");
  return kept.join(" ");
}

function confirmAction(text) {
  const d = $("confirm");
  $("confirm-text").textContent = text;
  d.returnValue = "";
  d.showModal();
  return new Promise((resolve) => d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true }));
}

async function act(upstream, server, action) {
  const a = ACTIONS[action];
  if (!(await confirmAction(`${a.verb} ${server} of upstream ${upstream}? (${a.explain})`))) return;
  try {
    // the upstream as the node has it now: PUT replaces the whole list
    const current = list((await json("upstream"))[upstream]);
    if (!current.some((s) => s.addr === server)) throw new Error(`${server} is no longer in ${upstream}`);
    const members = {};
    for (const s of current) members[s.addr] = s.addr === server ? paramsFor(s.params, action) : s.params ?? "";
    const r = await api("upstream", { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ [upstream]: members }) });
    const body = await r.json();
    if (r.status !== 200) throw new Error(body.msg ?? `status ${r.status}`);
    notice(`${upstream} ${server}: ${action} done`);
  } catch (e) {
    notice(`${action} ${server}: ${e.message}`);
  }
  await refreshUpstreams();
}

function serverRow(upstream, s) {
  const tr = document.createElement("tr");
  tr.dataset.server = `${upstream}|${s.addr}`;
  tr.innerHTML = `<td class="addr">${esc(s.addr)}</td><td class="params dim"></td><td class="state"></td><td class="healthy"></td>` +
    `<td class="num fails"></td><td class="num active"></td><td class="num" data-rate-server="${esc(`${upstream}|${s.addr}`)}"></td>` +
    `<td class="actions">${Object.keys(ACTIONS).map((k) => `<button data-action="${k}">${k}</button>`).join("")}</td>`;
  for (const b of tr.querySelectorAll("button")) b.addEventListener("click", () => act(upstream, s.addr, b.dataset.action));
  return tr;
}

async function refreshUpstreams() {
  const ups = await json("upstream");
  const box = $("upstreams");
  const names = Object.keys(ups).sort();
  for (const el of [...box.children]) if (!names.includes(el.dataset.upstream)) el.remove();
  for (const name of names) {
    let el = box.querySelector(`[data-upstream="${CSS.escape(name)}"]`);
    if (!el) {
      el = document.createElement("div");
      el.className = "upstream";
      el.dataset.upstream = name;
      el.innerHTML = `<h3>${esc(name)}</h3><table><thead><tr><th>server</th><th>params</th><th>state</th><th>healthy</th><th class="num">fails</th><th class="num">in flight</th><th class="num">req/s</th><th></th></tr></thead><tbody></tbody></table>`;
      box.appendChild(el);
    }
    const tbody = el.querySelector("tbody");
    const servers = list(ups[name]);
    const keys = servers.map((s) => `${name}|${s.addr}`);
    for (const tr of [...tbody.children]) if (!keys.includes(tr.dataset.server)) tr.remove();
    servers.forEach((s, i) => {
      let tr = tbody.querySelector(`[data-server="${CSS.escape(keys[i])}"]`);
      if (!tr) {
        tr = serverRow(name, s);
        tbody.insertBefore(tr, tbody.children[i] ?? null);
      }
      tr.querySelector(".params").textContent = s.params || "-";
      const st = tr.querySelector(".state");
      st.textContent = s.state;
      st.className = `state state-${s.state}`;
      tr.querySelector(".healthy").textContent = s.healthy ? "yes" : "no";
      tr.querySelector(".fails").textContent = s.fails;
      tr.querySelector(".active").textContent = s.active;
      tr.querySelector('[data-action="drain"]').disabled = s.drain === true;
      tr.querySelector('[data-action="offline"]').disabled = s.down === true;
      tr.querySelector('[data-action="enable"]').disabled = !s.drain && !s.down;
    });
  }
  if (names.length === 0) box.innerHTML = '<p class="dim">no upstreams</p>';
}

// ---- node, fleet, certificates, changes -----------------------------------------------------

let hasCerts = false;

async function refreshStatus() {
  const s = await json("status");
  $("node").textContent = `node ${s.node} · ELBNAME ${s.elbname} · revision ${s.config_revision} · etcd ${s.etcd}`;
  hasCerts = s.certificates !== undefined;
  $("certs-section").hidden = !hasCerts;
  if (hasCerts) await refreshCerts(s.certificates);
}

async function refreshFleet() {
  const f = await json("fleet");
  const rows = list(f.nodes).map((n) => {
    const lag = n.lag === 0 ? '<span class="lag-0">0</span>' : `<span class="lag-behind">${n.lag}</span>`;
    return `<tr data-node="${esc(n.id)}"><td>${esc(n.id)}${n.self ? ' <span class="dim">(this node)</span>' : ""}</td><td>${esc(n.address)}</td><td>${esc(n.version)}</td><td class="num">${n.revision}</td><td class="num">${lag}</td><td>${n.started_at ? ago(n.started_at) : "?"}</td></tr>`;
  });
  $("fleet").innerHTML =
    `<p class="dim">etcd revision ${f.etcd_revision}, newest configuration change ${f.newest_revision}</p>` +
    (rows.length ? `<table><thead><tr><th>node</th><th>address</th><th>version</th><th class="num">applied</th><th class="num">lag</th><th>started</th></tr></thead><tbody>${rows.join("")}</tbody></table>` : '<p class="dim">no node is registered</p>');
}

async function refreshCerts(status) {
  const certs = await json("cert");
  const expiring = status?.expiring ?? {};
  const rows = Object.keys(certs).sort().map((name) => {
    const c = certs[name];
    const left = Math.floor((Date.parse(c.not_after) - Date.now()) / 86400000);
    const soon = name in expiring || left < 14;
    return `<tr><td>${esc(name)}</td><td>${esc(list(c.names).join(", "))}</td><td>${esc(c.not_after)}</td><td class="num ${soon ? "expiring" : ""}">${Number.isFinite(left) ? left : "?"}</td><td>${esc(c.issuer ?? "")}</td></tr>`;
  });
  const names = Object.keys(expiring);
  $("certs").innerHTML =
    (names.length ? `<p class="expiring">expiring within ${status.expiring_within_days ?? 14} days: ${esc(names.join(", "))}</p>` : "") +
    (rows.length ? `<table><thead><tr><th>certificate</th><th>names</th><th>not after</th><th class="num">days left</th><th>issuer</th></tr></thead><tbody>${rows.join("")}</tbody></table>` : '<p class="dim">no certificates</p>');
}

async function refreshChanges() {
  const c = await json("changes?limit=20");
  const rows = list(c.changes).map((x) => `<tr><td>${ago(x.at)}</td><td class="num">${x.revision}</td><td class="type-${esc(x.type)}">${esc(x.type)}</td><td>${esc(x.key)}</td><td class="dim">${esc(x.note)}</td></tr>`);
  $("changes").innerHTML = rows.length ? `<table><thead><tr><th>when</th><th class="num">revision</th><th>change</th><th>key</th><th></th></tr></thead><tbody>${rows.join("")}</tbody></table>` : '<p class="dim">no change since the node started</p>';
}

// ---- timers ---------------------------------------------------------------------------------

function every(ms, fn) {
  let busy = false;
  const run = async () => {
    if (busy || !signedIn) return;
    busy = true;
    try {
      await fn();
    } catch (e) {
      if (e instanceof NeedToken) return askToken(e.message);
      notice(e.message);
    } finally {
      busy = false;
    }
  };
  setInterval(run, ms);
  return run;
}

const loops = [
  every(500, refreshUpstreams),
  every(2000, refreshMetrics),
  every(2000, refreshStatus),
  every(2000, refreshFleet),
  every(2000, refreshChanges),
  every(5000, refreshGraphs),
];

function askToken(msg) {
  signedIn = false;
  $("main").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = token ? msg : "";
  $("token").focus();
}

async function signIn() {
  try {
    await json("status");
  } catch (e) {
    if (e instanceof NeedToken) return askToken(e.message);
    notice(e.message);
  }
  signedIn = true;
  $("login").hidden = true;
  $("main").hidden = false;
  await Promise.all(loops.map((run) => run()));
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  token = $("token").value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  void signIn();
});
$("domain-filter").addEventListener("input", filterDomains);
void signIn();

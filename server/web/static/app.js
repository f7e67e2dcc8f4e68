// The Sluice job server's page: it polls the JSON API once a second.
"use strict";

const $ = (id) => document.getElementById(id);
let selected = null; // the job whose detail is shown
let token = sessionStorage.getItem("sluice-token") || "";

// api calls the server, asking for the bearer token once if it is needed.
async function api(method, path, body, type) {
  const headers = {};
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = type || "application/json";
  const res = await fetch(path, { method, headers, body });
  if (res.status === 401) {
    const t = prompt("This server needs its bearer token:");
    if (t) { token = t; sessionStorage.setItem("sluice-token", t); return api(method, path, body, type); }
  }
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  return { ok: res.ok, status: res.status, data };
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

const fmt = (n) => (n || 0).toLocaleString("en-US");

// The deploy box: line numbers, errors marked at their line.
function renderGutter(badLines) {
  const n = $("sql").value.split("\n").length;
  const g = $("gutter");
  g.textContent = "";
  for (let i = 1; i <= n; i++) {
    const line = el("span", badLines && badLines.has(i) ? { class: "bad", "data-line": i } : { "data-line": i }, i);
    g.append(line, "\n");
  }
}
$("sql").addEventListener("input", () => renderGutter(null));
$("sql").addEventListener("scroll", () => { $("gutter").scrollTop = $("sql").scrollTop; });

$("deploy-button").addEventListener("click", async () => {
  const name = $("app-name").value.trim();
  const res = await api("POST", "/v1/apps", JSON.stringify({ name, sql: $("sql").value }));
  const box = $("deploy-errors");
  box.textContent = "";
  if (res.ok) { renderGutter(null); refresh(); return; }
  const errs = (res.data && res.data.errors) || [];
  const bad = new Set(errs.map((e) => e.line));
  renderGutter(bad);
  if (errs.length) {
    for (const e of errs) box.append(el("div", { class: "sql-error", "data-line": e.line }, `line ${e.line}, column ${e.column}: ${e.message}`));
  } else {
    box.append(el("div", { class: "sql-error" }, (res.data && res.data.error) || `HTTP ${res.status}`));
  }
});

async function stopApp(name) {
  await api("DELETE", "/v1/apps/" + encodeURIComponent(name));
  refresh();
}

async function stopJob(name) {
  await api("DELETE", "/v1/jobs/" + encodeURIComponent(name));
  refresh();
}

function renderApps(apps) {
  const box = $("apps");
  box.textContent = "";
  if (!apps.length) { box.append(el("p", { class: "muted" }, "none deployed")); return; }
  for (const a of apps) {
    const table = el("table", {},
      el("tr", {}, ...["job", "state", "strategy", "in", "out", "filtered", "dead", "late", ""].map((h) => el("th", {}, h))));
    for (const j of a.jobs) {
      const row = el("tr", { class: "job", "data-job": j.name, onclick: () => { selected = j.name; refresh(); } },
        el("td", {}, j.name),
        el("td", {}, el("span", { class: "state " + j.state }, j.state)),
        el("td", {}, j.strategy || ""),
        el("td", { class: "num counter-in" }, fmt(j.counters.in)),
        el("td", { class: "num" }, fmt(j.counters.out)),
        el("td", { class: "num" }, fmt(j.counters.filtered)),
        el("td", { class: "num" }, fmt(j.counters.dead)),
        el("td", { class: "num" }, fmt(j.counters.late)),
        el("td", {}, ["running", "pending"].includes(j.state)
          ? el("button", { class: "stop-job", onclick: (ev) => { ev.stopPropagation(); stopJob(j.name); } }, "stop job") : ""));
      table.append(row);
      if (j.error) table.append(el("tr", {}, el("td", { colspan: 9, class: "errors" }, j.error)));
    }
    const edges = (a.edges || []).map((e) => `${e.from} → ${e.to} (${e.stream}, ${e.via})`).join("; ");
    box.append(el("div", { class: "app", "data-app": a.name },
      el("h3", {}, a.name, el("span", { class: "state " + a.state }, a.state),
        el("button", { class: "stop-app", onclick: () => stopApp(a.name) }, "stop and remove")),
      el("p", { class: "muted edges" }, edges || "one job"),
      table));
  }
}

function drawChart(rates) {
  const c = $("chart"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  if (!rates || rates.length < 2) return;
  const pts = rates.slice(-300);
  const top = Math.max(1, ...pts.map((p) => p.rate));
  g.strokeStyle = "#3c7bb5"; g.lineWidth = 2; g.beginPath();
  pts.forEach((p, i) => {
    const x = (i / (pts.length - 1)) * (c.width - 4) + 2;
    const y = c.height - 14 - (p.rate / top) * (c.height - 24);
    i ? g.lineTo(x, y) : g.moveTo(x, y);
  });
  g.stroke();
  g.fillStyle = "#555"; g.font = "11px sans-serif";
  g.fillText(fmt(Math.round(top)) + " rec/s", 4, 11);
  g.fillText(fmt(Math.round(pts[pts.length - 1].rate)) + " now", c.width - 90, c.height - 2);
}

function renderDetail(j) {
  $("detail").hidden = false;
  $("detail-name").textContent = j.name;
  $("detail-state").textContent = j.state;
  $("detail-state").className = "state " + j.state;
  drawChart(j.rates);
  const t = $("counters");
  t.textContent = "";
  for (const k of ["in", "out", "filtered", "dead", "late", "rows_written"]) {
    t.append(el("tr", {}, el("td", {}, k.replace("_", " ")), el("td", { class: "num", "data-counter": k }, fmt(j.counters[k]))));
  }
  $("watermark").textContent = j.watermark || "-";
  const lags = Object.entries(j.lag || {}).map(([s, n]) => `${s} ${fmt(n)} msgs`);
  $("lag").textContent = (j.watermark_lag_ms != null ? `${fmt(j.watermark_lag_ms)} ms behind the newest event` : "-") + (lags.length ? "; consumer lag " + lags.join(", ") : "");
  const parts = j.partition_stats || [];
  const most = Math.max(1, ...parts.map((p) => p.in));
  const box = $("partitions");
  box.textContent = "";
  parts.forEach((p, i) => {
    box.append(el("div", { class: "bar" }, `p${i}`,
      el("div", { class: "fill", style: `width:${Math.round(300 * p.in / most)}px` }),
      fmt(p.in),
      el("div", { class: "queue", style: `width:${p.queue_cap ? Math.round(60 * p.queue_depth / p.queue_cap) : 0}px`, title: "queue depth" }),
      `queue ${p.queue_depth}/${p.queue_cap}`));
  });
  $("skew").textContent = j.skew ? `skew ${j.skew.toFixed(2)} (largest / mean)` : "";
  $("explain").textContent = j.explain || "";
}

async function refresh() {
  try {
    const res = await api("GET", "/v1/apps");
    if (!res.ok) { $("status").textContent = `error ${res.status}`; return; }
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
    renderApps(res.data.apps);
    if (selected) {
      const jr = await api("GET", "/v1/jobs/" + encodeURIComponent(selected));
      if (jr.ok) renderDetail(jr.data); else { selected = null; $("detail").hidden = true; }
    }
  } catch (e) {
    $("status").textContent = "server unreachable";
  }
}

renderGutter(null);
refresh();
setInterval(refresh, 1000);

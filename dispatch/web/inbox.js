"use strict";
const STATUS = {new: "新 new", acknowledged: "已确认 acknowledged", resolved: "已处理 resolved", rejected: "误报 rejected",
                held: "待复核·未经真实照片验证 held: unverified, not sent"};
const COLORS = {new: "#c0392b", acknowledged: "#d68910", resolved: "#1e8449", rejected: "#7f8c8d", held: "#6c3483"};
const fmt = new Intl.DateTimeFormat("zh-CN", {timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
  day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});
const when = (iso) => iso ? fmt.format(new Date(iso)) : "—";
let token = null, me = null, alerts = [], selected = null, project = null, evidenceUrl = null;

function readToken() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) { sessionStorage.setItem("patrol-token", decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname); }
  return sessionStorage.getItem("patrol-token");
}

async function api(path, opts = {}) {
  const r = await fetch(path, {...opts, headers: {...(opts.headers || {}), Authorization: "Bearer " + token}});
  if (!r.ok) throw new Error(r.status + " " + (await r.text()));
  return r;
}

function rings(geom) {
  if (!geom) return [];
  return geom.type === "Polygon" ? geom.coordinates : geom.coordinates.flat();
}

function makeProjection(points) {
  const lons = points.map(p => p[0]), lats = points.map(p => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const pad = Math.max(x1 - x0, y1 - y0, 0.01) * 0.05;
  x0 -= pad; x1 += pad; y0 -= pad; y1 += pad;
  const k = Math.cos((y0 + y1) / 2 * Math.PI / 180);          // equirectangular, east-west scaled
  const s = Math.min(1000 / ((x1 - x0) * k), 600 / (y1 - y0));
  return ([lon, lat]) => [(lon - x0) * k * s, (y1 - lat) * s];
}

function drawMap() {
  const svg = $("map");
  svg.replaceChildren();
  const jr = rings(me.jurisdiction);
  const pts = jr.flat().concat(alerts.map(a => a.location.coordinates));
  if (!pts.length) return;
  project = makeProjection(pts);
  const ns = "http://www.w3.org/2000/svg";
  if (jr.length) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("class", "jur");
    path.setAttribute("d", jr.map(r => "M" + r.map(p => project(p).map(v => v.toFixed(1)).join(",")).join("L") + "Z").join(""));
    svg.appendChild(path);
  }
  for (const a of alerts) {
    const [x, y] = project(a.location.coordinates);
    const c = document.createElementNS(ns, "circle");
    c.setAttribute("class", "pin" + (a.alert_id === selected ? " selected" : ""));
    c.setAttribute("cx", x.toFixed(1)); c.setAttribute("cy", y.toFixed(1)); c.setAttribute("r", 7);
    c.setAttribute("fill", COLORS[a.status]);
    c.dataset.alertId = a.alert_id;
    c.addEventListener("click", () => select(a.alert_id));
    const t = document.createElementNS(ns, "title"); t.textContent = a.type.zh + " " + a.type.en; c.appendChild(t);
    svg.appendChild(c);
  }
}

function drawList() {
  const tb = document.querySelector("#alerts tbody");
  tb.replaceChildren();
  for (const a of alerts) {
    const tr = el("tr", {class: "row" + (a.alert_id === selected ? " selected" : "")},
      el("td", {}, when(a.created_at)), el("td", {}, a.type.zh, el("br"), el("span", {class: "muted"}, a.type.en)),
      el("td", {}, a.sighting_count), el("td", {class: "st-" + a.status}, STATUS[a.status] || a.status));
    tr.dataset.alertId = a.alert_id;
    tr.addEventListener("click", () => select(a.alert_id));
    tb.appendChild(tr);
  }
  $("empty").hidden = alerts.length > 0;
}

async function refresh() {
  const status = $("filter-status").value;
  const r = await api("/v1/alerts?limit=500" + (status ? "&status=" + status : ""));
  alerts = (await r.json()).alerts;
  drawList(); drawMap();
}

async function select(id) {
  selected = id;
  const a = await (await api(`/v1/alerts/${id}`)).json();
  $("detail-empty").hidden = true; $("detail-body").hidden = false;
  $("d-title").textContent = `${a.type.zh} ${a.type.en}`;
  $("d-status").textContent = STATUS[a.status]; $("d-status").className = "st-" + a.status;
  $("d-pos").textContent = `${a.location.coordinates[1].toFixed(6)}, ${a.location.coordinates[0].toFixed(6)} ±${a.uncertainty_m} m`;
  $("d-first").textContent = when(a.first_seen); $("d-last").textContent = when(a.last_seen);
  $("d-count").textContent = a.sighting_count; $("d-routing").textContent = a.routing;
  const open = a.status === "new" || a.status === "acknowledged" || a.status === "held";
  $("btn-ack").disabled = a.status !== "new"; $("btn-resolve").disabled = !open; $("btn-reject").disabled = !open;
  $("history").replaceChildren();
  for (const h of a.status_history) {
    const li = document.createElement("li");
    li.textContent = `${when(h.at)} ${h.actor}: ${h.from || "—"} → ${h.to}${h.note ? " — " + h.note : ""}`;
    $("history").appendChild(li);
  }
  const img = $("evidence");
  if (evidenceUrl) URL.revokeObjectURL(evidenceUrl);
  evidenceUrl = null; img.removeAttribute("src"); img.dataset.loaded = "false";
  if (a.evidence && a.evidence.url) {
    const blob = await (await api(`/v1/alerts/${id}/evidence.jpg`)).blob();
    evidenceUrl = URL.createObjectURL(blob);
    img.onload = () => { img.dataset.loaded = "true"; };
    img.src = evidenceUrl;
  }
  drawList(); drawMap();
}

async function act(action) {
  try {
    await api(`/v1/alerts/${selected}/${action}`, {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({note: $("note").value})});
    $("status-msg").textContent = "已保存 Saved"; $("note").value = "";
    await refresh(); await select(selected);
  } catch (e) { $("status-msg").textContent = "失败 Failed: " + e.message; }
}

async function start() {
  token = readToken();
  if (!token) { $("login").hidden = false; return; }
  try { me = await (await api("/v1/me")).json(); }
  catch (e) { sessionStorage.removeItem("patrol-token"); $("login").hidden = false; return; }
  $("dept-name").textContent = `${me.name} 告警收件箱`;
  $("dept-sub").textContent = `${me.name_en} — ${me.kind} ${me.kind_en} · ${me.jurisdiction_name} · ${me.city}`;
  const pathDept = decodeURIComponent(location.pathname.split("/").pop());
  if (pathDept && pathDept !== me.id) {
    $("dept-sub").textContent += ` · 注意：此令牌属于 ${me.id}，不是 ${pathDept} (token belongs to ${me.id}, not ${pathDept})`;
  }
  $("app").hidden = false;
  await refresh();
  setInterval(refresh, 15000);
}

$("token-go").addEventListener("click", () => { sessionStorage.setItem("patrol-token", $("token-input").value.trim()); location.reload(); });
$("filter-status").addEventListener("change", refresh);
$("btn-ack").addEventListener("click", () => act("ack"));
$("btn-resolve").addEventListener("click", () => act("resolve"));
$("btn-reject").addEventListener("click", () => act("reject"));
start();

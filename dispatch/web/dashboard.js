"use strict";
let token = null;
function readToken() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) { sessionStorage.setItem("patrol-admin", decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname); }
  return sessionStorage.getItem("patrol-admin");
}
async function api(path) {
  const r = await fetch(path, {headers: {Authorization: "Bearer " + token}});
  if (!r.ok) throw new Error(r.status + " " + (await r.text()));
  return r.json();
}
const hours = (h) => h === null ? "—" : (h < 1 ? (h * 60).toFixed(0) + " min" : h.toFixed(1) + " h");

function drawMap(fc, openByDept) {
  const svg = $("map"); svg.replaceChildren();
  const ringsOf = (g) => g.type === "Polygon" ? g.coordinates : g.coordinates.flat();
  const pts = fc.features.flatMap(f => ringsOf(f.geometry).flat());
  if (!pts.length) return;
  const lons = pts.map(p => p[0]), lats = pts.map(p => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const k = Math.cos((y0 + y1) / 2 * Math.PI / 180), s = Math.min(1000 / ((x1 - x0) * k), 700 / (y1 - y0));
  const P = ([lon, lat]) => [((lon - x0) * k * s).toFixed(1), ((y1 - lat) * s).toFixed(1)];
  const byArea = {};
  for (const f of fc.features) {
    const a = byArea[f.properties.area] || (byArea[f.properties.area] = {geometry: f.geometry, open: 0});
    a.open += openByDept[f.id] || 0;
  }
  const max = Math.max(1, ...Object.values(byArea).map(a => a.open));
  const ns = "http://www.w3.org/2000/svg";
  for (const [name, a] of Object.entries(byArea)) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", ringsOf(a.geometry).map(r => "M" + r.map(p => P(p).join(",")).join("L") + "Z").join(""));
    path.setAttribute("fill", `rgba(231, 76, 60, ${0.15 + 0.8 * a.open / max})`);
    const t = document.createElementNS(ns, "title"); t.textContent = `${name}: ${a.open}`; path.appendChild(t);
    svg.appendChild(path);
    const ring = ringsOf(a.geometry)[0];
    const cx = ring.reduce((s, p) => s + p[0], 0) / ring.length, cy = ring.reduce((s, p) => s + p[1], 0) / ring.length;
    const label = document.createElementNS(ns, "text");
    const [lx, ly] = P([cx, cy]);
    label.setAttribute("x", lx); label.setAttribute("y", ly); label.setAttribute("fill", "#fff");
    label.setAttribute("font-size", "22"); label.setAttribute("text-anchor", "middle");
    label.textContent = `${name} ${a.open}`;
    svg.appendChild(label);
  }
}

async function refresh() {
  const [s, fc, dead] = await Promise.all([api("/v1/admin/stats"), api("/v1/admin/jurisdictions"), api("/v1/admin/dead-letters")]);
  $("city").textContent = s.city;
  $("k-total").textContent = s.total; $("k-open").textContent = s.open; $("k-closed").textContent = s.closed;
  $("k-ack").textContent = hours(s.median_hours_to_ack); $("k-resolve").textContent = hours(s.median_hours_to_resolve);
  $("k-dead").textContent = dead.dead_letters.length;
  const max = Math.max(1, ...s.by_type.map(t => t.count));
  $("by-type").replaceChildren(...s.by_type.map(t => {
    const fill = el("div", {class: "fill"});
    fill.style.width = `${100 * t.count / max}%`;
    return el("div", {class: "bar"}, el("span", {}, t.zh + " ", el("span", {class: "muted"}, t.en)), fill, el("span", {}, t.count));
  }));
  $("by-dept").querySelector("tbody").replaceChildren(...s.by_department.map(d =>
    el("tr", {}, el("td", {}, d.name, el("br"), el("span", {class: "muted"}, d.name_en)), el("td", {}, d.open), el("td", {}, d.closed))));
  drawMap(fc, Object.fromEntries(s.by_department.map(d => [d.id, d.open])));
}

async function start() {
  token = readToken();
  if (!token) { $("login").hidden = false; return; }
  $("app").hidden = false;
  await refresh();
  setInterval(refresh, 15000);
}
$("token-go").addEventListener("click", () => { sessionStorage.setItem("patrol-admin", $("token-input").value.trim()); location.reload(); });
start();

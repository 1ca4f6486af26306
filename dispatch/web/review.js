"use strict";
// The review queue page. The token comes in the URL fragment (never sent to the server in a URL);
// every verdict goes to /v1/review/{key}/verdict, which records who made it and when.
const PAGE = 25;
const fmt = new Intl.DateTimeFormat("zh-CN", {timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
  day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});
const when = (iso) => iso ? fmt.format(new Date(iso)) : "—";
let token = sessionStorage.getItem("patrol-review"), items = [], types = [], current = null, offset = 0;
let draft = null, dragFrom = null, cropUrl = null, asked = 0;

const hash = location.hash.match(/token=([^&]+)/);
if (hash) {
  token = decodeURIComponent(hash[1]);
  sessionStorage.setItem("patrol-review", token);
  history.replaceState(null, "", location.pathname);
}

async function call(path, body) {
  const opts = {headers: {Authorization: "Bearer " + token}};
  if (body !== undefined) Object.assign(opts, {method: "POST", body: JSON.stringify(body)}, {headers: {...opts.headers, "Content-Type": "application/json"}});
  const r = await fetch(path, opts);
  if (!r.ok) throw new Error(r.status + " " + ((await r.json().catch(() => ({}))).detail || ""));
  return r;
}

function labelText(it) {
  const l = it.label;
  if (!l) return ["未复核 unreviewed", "lbl-none"];
  return l.finding_real ? [`属实 true (${l.boxes.length} 框 boxes)`, "lbl-true"] : ["误报 false (hard negative)", "lbl-false"];
}

function drawList() {
  const tb = document.querySelector("#items tbody");
  tb.replaceChildren();
  for (const it of items) {
    const [text, cls] = labelText(it);
    const tr = el("tr", {class: "row" + (current && it.key === current.key ? " selected" : "")},
      el("td", {}, when(it.time)), el("td", {}, it.type.zh, el("br"), el("span", {class: "muted"}, it.type.en)),
      el("td", {}, it.confidence.toFixed(2)), el("td", {class: "muted"}, it.model_version), el("td", {class: cls}, text));
    tr.dataset.key = it.key;
    tr.addEventListener("click", () => select(it.key));
    tb.appendChild(tr);
  }
  $("empty").hidden = items.length > 0;
  $("page").textContent = `${offset + 1}–${offset + items.length}`;
  $("prev").disabled = offset === 0; $("next").disabled = items.length < PAGE;
}

async function refresh() {
  const q = `/v1/review?queue=${$("queue").value}&limit=${PAGE}&offset=${offset}` + ($("unreviewed").checked ? "&reviewed=false" : "");
  const ticket = ++asked;
  const body = await (await call(q)).json();
  if (ticket !== asked) return;  // a newer filter was asked for while this answer was on its way
  items = body.items; $("who").textContent = `复核人 Reviewer: ${body.reviewer}`;
  if (!types.length) {
    types = body.types;
    $("type").replaceChildren(...types.map(t => el("option", {value: t.code}, `${t.zh} ${t.en}`)));
  }
  drawList();
}

function rect(box, cls) {
  const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
  const [x0, y0, x1, y1] = box;
  for (const [k, v] of [["x", x0], ["y", y0], ["width", x1 - x0], ["height", y1 - y0]]) r.setAttribute(k, v);
  r.setAttribute("class", cls);
  return r;
}

function drawBoxes() {
  const svg = $("overlay"), img = $("crop");
  svg.setAttribute("viewBox", `0 0 ${img.naturalWidth || 1} ${img.naturalHeight || 1}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.replaceChildren();
  if (current.evidence_box) svg.appendChild(rect(current.evidence_box, "finding"));
  for (const v of current.verdicts) if (v.verdict === "missed") svg.appendChild(rect(v.box, "missed"));
  if (draft) svg.appendChild(rect(draft, "draft"));
  $("btn-missed").disabled = !draft;
}

function cropPoint(ev) {
  const img = $("crop"), b = img.getBoundingClientRect();
  const x = (ev.clientX - b.left) / b.width * img.naturalWidth, y = (ev.clientY - b.top) / b.height * img.naturalHeight;
  return [Math.max(0, Math.min(img.naturalWidth, x)), Math.max(0, Math.min(img.naturalHeight, y))];
}

async function select(key) {
  current = await (await call(`/v1/review/${encodeURIComponent(key)}`)).json();
  draft = null;
  $("detail-empty").hidden = true; $("detail-body").hidden = false;
  $("d-title").textContent = `${current.type.zh} ${current.type.en}`;
  $("d-alert").textContent = `${current.alert.id} · ${current.alert.status} · ${current.alert.department_id}`;
  $("d-conf").textContent = current.confidence.toFixed(3);
  $("d-model").textContent = current.model_version;
  $("d-time").textContent = when(current.time);
  $("d-label").textContent = labelText(current)[0]; $("d-label").className = labelText(current)[1];
  $("type").value = current.type.code;
  $("history").replaceChildren(...current.verdicts.map(v => el("li", {},
    `${when(v.at)} ${v.actor}: ${v.verdict}${v.type ? " " + v.type : ""}${v.box ? " [" + v.box.map(c => Math.round(c)).join(", ") + "]" : ""}${v.note ? " — " + v.note : ""}`)));
  const img = $("crop");
  if (cropUrl) URL.revokeObjectURL(cropUrl);
  cropUrl = null; img.removeAttribute("src"); img.dataset.loaded = "false";
  if (current.evidence_url) {
    cropUrl = URL.createObjectURL(await (await call(`/v1/review/${encodeURIComponent(key)}/evidence.jpg`)).blob());
    img.onload = () => { img.dataset.loaded = "true"; drawBoxes(); };
    img.src = cropUrl;
  }
  drawList();
}

async function send(verdict) {
  const body = {verdict, note: $("note").value};
  if (verdict === "missed") Object.assign(body, {type: $("type").value, box: draft});
  if (verdict === "true") {
    if ($("type").value !== current.type.code) body.type = $("type").value;
    if (draft) body.box = draft;
  }
  try {
    await call(`/v1/review/${encodeURIComponent(current.key)}/verdict`, body);
    $("status-msg").textContent = "已保存 Saved"; $("note").value = "";
    const key = current.key;
    await refresh(); await select(key);
  } catch (e) { $("status-msg").textContent = "失败 Failed: " + e.message; }
}

function start() {
  if (!token) { $("login").hidden = false; return; }
  $("app").hidden = false;
  refresh().catch(e => { sessionStorage.removeItem("patrol-review"); $("app").hidden = true; $("login").hidden = false;
                         $("who").textContent = e.message; });
}

const overlay = $("overlay");
overlay.addEventListener("pointerdown", (ev) => { dragFrom = cropPoint(ev); overlay.setPointerCapture(ev.pointerId); });
overlay.addEventListener("pointermove", (ev) => {
  if (!dragFrom) return;
  const [x, y] = cropPoint(ev), [a, b] = dragFrom;
  draft = [Math.min(a, x), Math.min(b, y), Math.max(a, x), Math.max(b, y)].map(v => Math.round(v * 10) / 10);
  drawBoxes();
});
overlay.addEventListener("pointerup", () => {
  dragFrom = null;
  if (draft && (draft[2] - draft[0] < 2 || draft[3] - draft[1] < 2)) draft = null;
  drawBoxes();
});
$("token-go").addEventListener("click", () => { sessionStorage.setItem("patrol-review", $("token-input").value.trim()); location.reload(); });
$("queue").addEventListener("change", () => { offset = 0; refresh(); });
$("unreviewed").addEventListener("change", () => { offset = 0; refresh(); });
$("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); refresh(); });
$("next").addEventListener("click", () => { offset += PAGE; refresh(); });
$("btn-true").addEventListener("click", () => send("true"));
$("btn-false").addEventListener("click", () => send("false"));
$("btn-missed").addEventListener("click", () => send("missed"));
$("btn-clear").addEventListener("click", () => { draft = null; drawBoxes(); });
start();

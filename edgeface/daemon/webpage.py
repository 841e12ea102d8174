"""The live view's one page: inline HTML, CSS and JS, no external assets (the door may have no internet).

What it shows, polled from ``/health.json`` every quarter second and ``/events.json`` every second:

- a door badge (``Door locked`` / ``Door unlocked``) from the health report's ``door``, within about 0.3 s
  of the relay moving (why a faster poll rather than a push: the comment above ``HEALTH_EVERY_MS``);
- the stream, as wide as the screen allows;
- the health figures under human labels (``Uptime 3 min 19 s``, ``MQTT broker connected``); a key this
  page does not know yet is shown with its underscores as spaces, so a new figure is never hidden;
- the last events under column headers (When, Decision, Person, Similarity), a decision's reason
  (``spoof``, ``remote``...) beside it; times relative and local (``12 s ago``, the absolute local time
  on hover).

- the recent unknown faces (``/recent.json``, when the daemon keeps them): time and whom each looked like;
  with the page's token (asked once, kept for the tab) their crops and an "Enrol…" action (``POST /enrol``).

One column on a phone (390 px wide), the stream beside the tables from 900 px; the tables wrap long names
instead of widening the page. ``body``'s ``data-*`` attributes (frames seen, polls done, the last error)
let a test, or a curious operator in the browser's console, see that the page is alive.
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgeface live view</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#111;color:#eee}
header{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.4em 1em;
  padding:.6em 1em;border-bottom:1px solid #333}
h1{font-size:1.15em;margin:0;font-weight:600}
h2{font-size:1em;margin:0 0 .4em;color:#aaa;font-weight:600;text-transform:uppercase;letter-spacing:.05em}
#door{padding:.2em .8em;border-radius:1em;font-weight:700;background:#444;color:#eee;white-space:nowrap}
#door.locked{background:#1f5130;color:#c9f5d3}
#door.unlocked{background:#8a5a00;color:#fff2cc}
main{display:grid;grid-template-columns:minmax(0,1fr);gap:1em;padding:1em}
@media (min-width:900px){main{grid-template-columns:minmax(0,3fr) minmax(0,2fr);align-items:start}}
#stream{display:block;width:100%;height:auto;max-height:80vh;object-fit:contain;aspect-ratio:auto 4/3;
  background:#222;border-radius:4px}
section+section{margin-top:1.2em}
table{width:100%;border-collapse:collapse;table-layout:fixed}
th,td{padding:4px 6px;text-align:left;vertical-align:top;border-bottom:1px solid #2a2a2a;overflow-wrap:anywhere}
thead th{color:#aaa;font-weight:600;border-bottom-color:#555;overflow-wrap:normal}
#health th{font-weight:400;color:#aaa;width:50%}
#events col.when{width:22%}#events col.type{width:29%}#events col.person{width:27%}#events col.sim{width:22%}
.note{color:#aaa}
.num{text-align:right;font-variant-numeric:tabular-nums}
.granted{color:#7d7}.denied{color:#fb5}.unknown{color:#f77}
.bad{color:#f77}.good{color:#7d7}
time{border-bottom:1px dotted #777;cursor:help}
@media (max-width:480px){body{font-size:14px}main{padding:.6em}th,td{padding:4px 3px}}
</style></head>
<body data-frames="0" data-polls="0">
<header><h1>edgeface live view</h1><span id="door" class="unknown-state">Door …</span></header>
<main>
<div><img id="stream" src="/stream.mjpg" alt="camera stream"></div>
<div>
<section><h2>Health</h2><table id="health"><tbody></tbody></table></section>
<section><h2>Last events</h2>
<table id="events">
<colgroup><col class="when"><col class="type"><col class="person"><col class="sim"></colgroup>
<thead><tr><th scope="col">When</th><th scope="col">Decision</th><th scope="col">Person</th>
<th scope="col" class="num">Similarity</th></tr></thead>
<tbody><tr><td colspan="4">none yet</td></tr></tbody>
</table></section>
<section id="recent" hidden><h2>Recent unknown faces</h2>
<p class="note" id="recent-auth"></p>
<table id="recent-faces"><tbody></tbody></table><p class="note" id="recent-said"></p></section>
</div>
</main>
<script>
"use strict";
const body = document.body, img = document.getElementById("stream");
function frameSeen() {
  if (img.naturalWidth > 0) {
    body.dataset.frames = String(Number(body.dataset.frames) + 1);
    body.dataset.stream = img.naturalWidth + "x" + img.naturalHeight;
  }
}
img.addEventListener("load", frameSeen);

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor(s % 3600 / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor(s % 86400 / 3600) + " h";
}
function ago(ts) {
  const seconds = (Date.now() - Date.parse(ts)) / 1000;
  if (!isFinite(seconds)) return String(ts);
  if (seconds < 1) return "just now";
  if (seconds < 60) return Math.floor(seconds) + " s ago";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
  if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
  return new Date(ts).toLocaleDateString();
}
const yesNo = (good, bad) => (v) => [v ? good : bad, v ? "good" : "bad"];
const HEALTH = [
  ["camera_online", "Camera", yesNo("online", "offline")],
  ["broker_connected", "MQTT broker", yesNo("connected", "not connected")],
  ["people_enrolled", "People enrolled"],
  ["liveness", "Liveness check"],
  ["match_threshold", "Match threshold", (v) => [Number(v).toFixed(3)]],
  ["target_far", "Target false accepts", (v) => [+(Number(v) * 100).toPrecision(3) + " % of attempts"]],
  ["frames_processed", "Frames processed", (v) => [Number(v).toLocaleString()]],
  ["uptime_seconds", "Uptime", (v) => [duration(v)]],
];
const SHOWN_ELSEWHERE = new Set(["door"]);
function plain(v) { return [typeof v === "boolean" ? (v ? "yes" : "no") : v == null ? "-" : String(v)]; }
function humanKey(key) { const s = key.replace(/_/g, " "); return s.charAt(0).toUpperCase() + s.slice(1); }

function cell(row, text, cls) {
  const td = row.insertCell(); td.textContent = text == null ? "-" : String(text); if (cls) td.className = cls;
  return td;
}
function note(td, text) {
  const span = document.createElement("span"); span.className = "note"; span.textContent = " · " + text;
  td.appendChild(span); return span;
}
function showDoor(state) {
  const badge = document.getElementById("door");
  badge.textContent = state ? "Door " + state : "Door state unknown";
  badge.className = state || "unknown-state";
}
function showHealth(health) {
  showDoor(health.door);
  const rows = document.querySelector("#health tbody"); rows.replaceChildren();
  const known = new Set(HEALTH.map(([key]) => key));
  const entries = HEALTH.filter(([key]) => key in health).concat(
    Object.keys(health).filter((k) => !known.has(k) && !SHOWN_ELSEWHERE.has(k)).map((k) => [k, humanKey(k)]));
  for (const [key, label, format] of entries) {
    const [text, cls] = (format || plain)(health[key]);
    const r = rows.insertRow(); r.dataset.key = key;
    const th = document.createElement("th"); th.scope = "row"; th.textContent = label; r.appendChild(th);
    cell(r, text, cls);
  }
}
function showEvents(events) {
  const rows = document.querySelector("#events tbody"); rows.replaceChildren();
  for (const e of events) {
    const r = rows.insertRow(); r.className = "event";
    const when = r.insertCell(), t = document.createElement("time");
    t.dateTime = e.ts; t.title = new Date(e.ts).toLocaleString(); t.textContent = ago(e.ts); when.appendChild(t);
    const decision = cell(r, e.type, e.type);
    if (e.reason) { note(decision, e.reason); }
    if (e.suppressed) { note(decision, "+" + e.suppressed + " more").title = "strangers folded into this report"; }
    cell(r, e.person);
    cell(r, e.person == null && !e.similarity ? "-" : Number(e.similarity).toFixed(2), "num");
  }
  if (!events.length) { cell(rows.insertRow(), "none yet").colSpan = 4; }
}
// The door badge must catch a relay pulse (3 s by default, 0.1 s at the least), which a 1 s poll can miss
// or show up to a second late. A push (a request held open until the relay moves) would need the relay wired
// to the page and would hold a connection and a thread per viewer against the server's 16; polling the health
// report faster costs a few figures read and ~300 bytes on the kept-alive connection. So health is polled
// four times a second (the badge follows the relay within about 0.3 s; only a pulse shorter than a poll can
// still go unseen, and it is listed among the events all the same) and the events, which need no such haste,
// once a second. The next poll is due only once this one is answered: a slow daemon never gets a pile of them.
const HEALTH_EVERY_MS = 250, EVENTS_EVERY_NTH = 4;
const getJson = async (path) => (await fetch(path, {cache: "no-store"})).json();
let polls = 0;
async function poll() {
  try {
    showHealth(await getJson("/health.json"));
    if (polls % EVENTS_EVERY_NTH === 0) showEvents(await getJson("/events.json"));
    body.dataset.polls = String(++polls);
    delete body.dataset.error;
  } catch (err) { body.dataset.error = String(err); }
  frameSeen();
  setTimeout(poll, HEALTH_EVERY_MS);
}
poll();

// Recent unknown faces (/recent.json): listed to anyone who sees the page; their crops and the Enrol… action
// only with the token (web.token), kept for this tab only. Without a token configured nothing here writes.
let token = sessionStorage.getItem("edgefaceToken") || "";
const auth = () => (token ? {Authorization: "Bearer " + token} : {});
function button(text, onclick) {
  const b = document.createElement("button"); b.type = "button"; b.textContent = text; b.onclick = onclick;
  return b;
}
async function enrol(id) {
  const name = prompt("Enrol this face as:");
  if (!name) return;
  const r = await fetch("/enrol", {method: "POST", headers: {...auth(), "Content-Type": "application/json"},
    body: JSON.stringify({name: name, ids: [id]})});
  const reply = await r.json();
  const said = document.getElementById("recent-said");
  said.textContent = reply.error || (reply.enrolled.length ? "enrolled as " + name
    : (reply.results[0] || {}).reason || "refused");
  pollRecent(false);
}
function showRecent(data) {
  document.getElementById("recent").hidden = false;
  body.dataset.recent = String(data.faces.length);
  const line = document.getElementById("recent-auth"); line.replaceChildren();
  if (!data.token_configured) { line.textContent = "Enrolling from here needs web.token in the config."; }
  else if (!data.can_enrol) {
    line.appendChild(button("Sign in to enrol…", () => {
      token = prompt("The page's token (web.token):") || ""; sessionStorage.setItem("edgefaceToken", token);
      pollRecent(false);
    }));
  }
  const rows = document.querySelector("#recent-faces tbody"); rows.replaceChildren();
  for (const f of data.faces) {
    const r = rows.insertRow(); r.dataset.id = String(f.id);
    const face = r.insertCell();
    if (f.crop) {
      const i = document.createElement("img"); i.src = f.crop; i.width = 56; i.alt = "face " + f.id;
      face.appendChild(i);
    } else { face.textContent = "#" + f.id; }
    const t = document.createElement("time"); t.dateTime = f.time; t.textContent = ago(f.time);
    r.insertCell().appendChild(t);
    cell(r, f.candidate ? "like " + f.candidate + " (" + Number(f.similarity).toFixed(2) + ")" : "nobody enrolled");
    const act = r.insertCell(); if (data.can_enrol) act.appendChild(button("Enrol…", () => enrol(f.id)));
  }
  if (!data.faces.length) { cell(rows.insertRow(), "none").colSpan = 4; }
}
async function pollRecent(again = true) {
  try {
    const r = await fetch("/recent.json", {cache: "no-store", headers: auth()});
    if (r.ok) showRecent(await r.json());
  } catch (err) { body.dataset.error = String(err); }
  if (again) setTimeout(pollRecent, 3000);
}
pollRecent();
</script>
</body></html>
"""

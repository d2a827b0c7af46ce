// The streamer overlay: current contestant, countdown, live bars of the chosen category, likes,
// results when revealed. Numbers animate; a freeze (server side) simply stops them moving.
import { STRINGS } from "./i18n.js";
import { formatClock, keepConnected, remainingSeconds } from "./socket.js";

const body = document.body;
const showId = body.dataset.show;
const key = body.dataset.key;
const lang = body.dataset.lang in STRINGS ? body.dataset.lang : "zh-CN";
const t = STRINGS[lang];
let state = JSON.parse(document.getElementById("initial-state").textContent);
const local = (obj, k) => (lang === "en" ? obj[k + "_en"] : obj[k]);
const rows = new Map();
// The board's size: &top=N in the overlay's URL, else what the admin set (default 10).
const urlTop = Number(body.dataset.top) || 0;
const boardSize = () => Math.max(1, urlTop || (state.overlay && state.overlay.top) || 10);
const shown = new Map();

function animateNumber(node, from, to) {
  const start = performance.now();
  const step = (now) => {
    const p = Math.min(1, (now - start) / 600);
    node.textContent = Math.round(from + (to - from) * (1 - (1 - p) ** 3)).toLocaleString();
    if (p < 1) requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}

function setNumber(id, node, value) {
  const before = shown.get(id) ?? 0;
  if (before !== value) animateNumber(node, before, value);
  else node.textContent = value.toLocaleString();
  shown.set(id, value);
}

const awards = JSON.parse(document.getElementById("awards").textContent);
let scene = null; // the published result on show: {key, rows}
let loading = "";

// The results scene: once a category's result is published and the stage shows results, the
// board shows the published places and awards (winners, nominations), not the live bars.
async function loadResult(catId, version) {
  const key = `${catId}:${version}`;
  if (loading === key) return;
  loading = key;
  try {
    const res = await fetch(`/api/shows/${encodeURIComponent(showId)}/published/${encodeURIComponent(catId)}?version=${version}`);
    if (!res.ok) return;
    const record = await res.json();
    scene = { key, rows: record.result.rows };
    render();
  } finally {
    loading = "";
  }
}

function renderScene(cat, people) {
  const list = document.getElementById("ov-bars");
  document.getElementById("ov-title").textContent = `${local(cat, "name")} · ${t.ov_results}`;
  const withAward = scene.rows.filter((r) => r.award);
  const shownRows = (withAward.length ? withAward : scene.rows).slice(0, boardSize());
  rows.clear();
  list.replaceChildren(
    ...shownRows.map((r) => {
      const li = document.createElement("li");
      li.className = "ov-row ov-result" + (r.award ? " win" : "");
      li.dataset.contestant = r.contestant;
      const who = people[r.contestant];
      const award = r.award ? (lang === "en" ? (awards[cat.id] || {})[r.award] || r.award : r.award) : "";
      for (const [cls, text] of [["ov-place", r.place], ["n", who ? `${who.number} ${local(who, "name")}` : r.contestant], ["ov-award", award]]) {
        const span = document.createElement("span");
        span.className = cls;
        span.textContent = String(text);
        li.append(span);
      }
      return li;
    }),
  );
  list.classList.add("scene");
}

function renderCard(cat, people) {
  // While results are on stage the card is about the category and its winner (once the
  // published result is loaded), never the last contestant presented.
  const label = document.getElementById("ov-label");
  const name = document.getElementById("ov-name");
  const sub = document.getElementById("ov-sub");
  if (state.stage.phase === "results") {
    const published = (state.published || {})[cat.id];
    const shown = scene && published && scene.key === `${cat.id}:${published}`;
    const first = shown ? scene.rows.find((r) => r.award) || scene.rows[0] : null;
    const who = first ? people[first.contestant] : null;
    label.textContent = `${t.phase_results} · ${local(cat, "name")}`;
    name.textContent = who ? local(who, "name") : "";
    const award = first && first.award ? (lang === "en" ? (awards[cat.id] || {})[first.award] || first.award : first.award) : "";
    sub.textContent = who ? [award, local(who, "organisation")].filter(Boolean).join(" · ") : "";
    return;
  }
  const cur = people[state.stage.contestant];
  label.textContent = state.stage.phase === "waiting" ? t.up_next : t["phase_" + state.stage.phase] || "";
  name.textContent = cur ? local(cur, "name") : "";
  sub.textContent = cur ? `${local(cur, "organisation")} · ${local(cur, "innovation")}` : "";
}

function render() {
  const people = Object.fromEntries(state.contestants.map((c) => [c.id, c]));
  const catId = state.stage.phase === "results" ? state.stage.category : state.overlay.category;
  const cat = state.categories.find((c) => c.id === catId) || state.categories[0];
  renderCard(cat, people);
  const counts = state.tallies[cat.id];
  const published = (state.published || {})[cat.id];
  if (state.stage.phase === "results" && published) {
    if (scene && scene.key === `${cat.id}:${published}`) {
      renderScene(cat, people);
      setNumber("likes", document.getElementById("ov-likes"), state.likes.counted);
      document.getElementById("ov-likes-label").textContent = t.ov_likes;
      return;
    }
    loadResult(cat.id, published);
  }
  document.getElementById("ov-bars").classList.remove("scene");
  for (const node of document.querySelectorAll("#ov-bars .ov-result")) node.remove();
  const results = state.stage.phase === "results" && counts;
  document.getElementById("ov-title").textContent = `${local(cat, "name")} · ${results ? t.ov_results : t.ov_live}`;
  const list = document.getElementById("ov-bars");
  // The top N by votes (ties in running order), re-ordered with a slide (FLIP: each row moves
  // from where it was to where it is now).
  const all = counts ? cat.contestants : [];
  const ordered = [...all]
    .map((id, i) => [id, i])
    .sort((a, b) => (counts[b[0]] || 0) - (counts[a[0]] || 0) || a[1] - b[1])
    .map(([id]) => id)
    .slice(0, boardSize());
  const ids = ordered;
  const before = new Map([...rows].map(([id, row]) => [id, row.getBoundingClientRect().top]));
  const top = counts ? Math.max(1, ...Object.values(counts)) : 1;
  for (const id of [...rows.keys()]) if (!ids.includes(id)) { rows.get(id).remove(); rows.delete(id); }
  ordered.forEach((id, i) => {
    let row = rows.get(id);
    if (!row) {
      row = document.createElement("li");
      row.className = "ov-row";
      row.innerHTML = '<span class="n"></span><span class="ov-track"><span class="ov-fill"></span></span><span class="ov-num"></span>';
      rows.set(id, row);
    }
    row.querySelector(".n").textContent = people[id] ? `${people[id].number} ${local(people[id], "name")}` : id;
    row.querySelector(".ov-fill").style.width = (100 * counts[id]) / top + "%";
    setNumber(`bar:${cat.id}:${id}`, row.querySelector(".ov-num"), counts[id]);
    row.classList.toggle("win", Boolean(results) && i < 3);
    row.dataset.contestant = id;
    list.append(row);
  });
  for (const [id, row] of rows) {
    const was = before.get(id);
    if (was === undefined) continue;
    const shift = was - row.getBoundingClientRect().top;
    if (!shift) continue;
    row.style.transition = "none";
    row.style.transform = `translateY(${shift}px)`;
    requestAnimationFrame(() => {
      row.style.transition = "transform 600ms ease";
      row.style.transform = "";
    });
  }
  const foot = [];
  if (cat.voided) foot.push(t.voided.replace("{n}", cat.voided.toLocaleString()));
  if (cat.ledger_head && !cat.open) foot.push(`${t.ledger_head} #${cat.ledger_head.n} ${cat.ledger_head.h.slice(0, 12)}`);
  document.getElementById("ov-foot").textContent = foot.join(" · ");
  setNumber("likes", document.getElementById("ov-likes"), state.likes.counted);
  document.getElementById("ov-likes-label").textContent = t.ov_likes;
}

// Danmaku: each approved comment not seen before flies once, in the freest lane; no more than the
// density the admin set fly at once (the rest wait, the oldest dropped beyond 50 waiting).
const LANES = 8;
const flown = new Set();
const waiting = [];
const lanes = new Array(LANES).fill(0); // when each lane is free again (ms)
let flying = 0;
let firstBatch = true;

function danmaku() {
  const dm = state.danmaku || { enabled: false, density: 0, pinned: [] };
  const layer = document.getElementById("ov-danmaku");
  document.getElementById("ov-pinned").replaceChildren(
    ...(dm.pinned || []).map((p) => {
      const node = document.createElement("div");
      node.className = "ov-pin";
      node.textContent = p.text;
      return node;
    }),
  );
  // A comment a moderator took back (rejected after approval) leaves the screen at once.
  const current = new Set((state.comments || []).map((c) => c.id));
  for (const node of [...layer.children]) {
    if (!current.has(node.dataset.id)) { node.remove(); flying -= 1; }
  }
  for (let i = waiting.length - 1; i >= 0; i--) if (!current.has(waiting[i].id)) waiting.splice(i, 1);
  const fresh = (state.comments || []).filter((c) => !flown.has(c.id));
  fresh.forEach((c) => flown.add(c.id));
  // On load only the newest few fly (not the whole backlog of the show so far).
  waiting.push(...(firstBatch ? fresh.slice(-3) : fresh));
  firstBatch = false;
  waiting.splice(0, Math.max(0, waiting.length - 50));
  layer.hidden = !dm.enabled;
  if (!dm.enabled) {
    layer.replaceChildren();
    flying = 0;
    waiting.length = 0;
    return;
  }
  while (waiting.length && flying < dm.density) {
    const c = waiting.shift();
    const now = performance.now();
    let lane = 0;
    for (let i = 1; i < LANES; i++) if (lanes[i] < lanes[lane]) lane = i;
    lanes[lane] = Math.max(now, lanes[lane]) + 2500;
    const node = document.createElement("div");
    node.className = "ov-dm";
    node.dataset.id = c.id;
    node.style.top = `${(lane * 100) / LANES}%`;
    if (c.src && c.src !== "web") {
      const src = document.createElement("span");
      src.className = "src";
      src.textContent = c.src;
      node.append(src);
    }
    node.append(document.createTextNode(c.text));
    flying += 1;
    node.addEventListener("animationend", () => {
      node.remove();
      flying -= 1;
      danmaku();
    });
    layer.append(node);
  }
}

const path = `/ws/overlay/${encodeURIComponent(showId)}` + (key ? `?key=${encodeURIComponent(key)}` : "");
keepConnected(path, {
  onSnapshot: (msg) => {
    state = msg;
    render();
    danmaku();
  },
});
render();
danmaku();
setInterval(() => {
  document.getElementById("ov-clock").textContent = formatClock(remainingSeconds(state));
}, 250);

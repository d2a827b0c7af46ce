// The moderator console: the live flag queue, void/restore with a before/after preview, the log.
import { command, onState, showId, toast } from "./staff.js";

const base = `/api/shows/${encodeURIComponent(showId)}`;
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = String(text);
  return node;
};
const when = (ms) => new Date(ms).toLocaleTimeString();
let pending = null; // the action awaiting confirmation
let lastFlags = "";

async function get(path) {
  const res = await fetch(base + path, { credentials: "same-origin" });
  return res.ok ? res.json() : null;
}

function voteRow(v) {
  const tr = el("tr", v.voided ? "voided" : "");
  const cells = [when(v.t), v.vid, `${v.cat}/${v.c}`, v.ip, v.ua, v.score, v.rules.join(", ")];
  cells.forEach((c) => tr.append(el("td", "", c)));
  const act = el("td");
  const op = v.voided ? "restore" : "void";
  const button = el("button", "", v.voided ? "恢复 Restore…" : "作废 Void…");
  button.type = "button";
  button.addEventListener("click", () => ask({ op, vote_ids: [v.vid] }, `${op} ${v.vid}`));
  act.append(button);
  tr.append(act);
  return tr;
}

function renderClusters(clusters) {
  $("flag-count").textContent = `${clusters.length} clusters`;
  $("clusters").replaceChildren(
    ...clusters.map((c) => {
      const box = el("details", "cluster");
      box.dataset.cluster = c.id;
      const summary = el("summary");
      summary.append(el("strong", "", c.rule), " ", el("code", "", c.key), " · ");
      summary.append(el("span", "", `${c.flagged} flagged / ${c.count} · ${c.reason}`));
      box.append(summary);
      const controls = el("div", "controls");
      for (const op of ["void", "restore"]) {
        const b = el("button", op === "void" ? "danger" : "", op === "void"
          ? `作废全部 Void ${c.flagged} flagged…` : "恢复全部 Restore cluster…");
        b.type = "button";
        b.dataset.op = op;
        b.addEventListener("click", () => ask({ op, cluster: c.id }, `${op} · ${c.id}`));
        controls.append(b);
      }
      box.append(controls);
      const table = el("table");
      const head = el("tr");
      ["When", "Vote", "Target", "IP", "User agent", "Score", "Rules", ""].forEach((h) =>
        head.append(el("th", "", h)));
      table.append(head, ...c.votes.map(voteRow));
      box.append(table);
      if (c.count > c.votes.length) box.append(el("p", "muted", `+${c.count - c.votes.length} more`));
      return box;
    }),
  );
}

async function refresh() {
  const open = new Set([...document.querySelectorAll("details.cluster[open]")].map((d) => d.dataset.cluster));
  const data = await get("/flags");
  const signature = JSON.stringify(data);
  if (data && signature !== lastFlags) {
    lastFlags = signature; // re-render only on change, so an open cluster stays put
    renderClusters(data.clusters);
    document.querySelectorAll("details.cluster").forEach((d) => { d.open = open.has(d.dataset.cluster); });
  }
  const log = await get("/moderation-log");
  if (log) {
    $("log-table").tBodies[0].replaceChildren(
      ...log.actions.slice().reverse().map((a) => {
        const tr = el("tr");
        [when(a.t), a.op, a.by, a.why, a.changed, a.ref].forEach((c) => tr.append(el("td", "", c)));
        return tr;
      }),
    );
  }
}

async function ask(body, title) {
  const { ok, answer } = await command(`${base}/voids/preview`, body);
  if (!ok) return;
  pending = body;
  $("preview-title").textContent = title;
  $("preview-meta").textContent =
    `${answer.would_change} of ${answer.votes} votes change` + (answer.unknown ? `, ${answer.unknown} unknown` : "");
  $("preview-tables").replaceChildren(
    ...answer.categories.map((cat) => {
      const table = el("table", "preview");
      table.dataset.category = cat.category;
      const head = el("tr");
      ["", "Before #", "Votes", "After #", "Votes", "Δ"].forEach((h) => head.append(el("th", "", h)));
      table.append(el("caption", "", cat.category), head);
      for (const r of cat.rows) {
        const tr = el("tr", r.before.place !== r.after.place ? "moved" : "");
        tr.dataset.contestant = r.contestant;
        [r.contestant, r.before.place, r.before.votes, r.after.place, r.after.votes, r.change]
          .forEach((c) => tr.append(el("td", "", c)));
        table.append(tr);
      }
      return table;
    }),
  );
  $("preview-panel").hidden = false;
  $("void-reason").focus();
}

$("preview-confirm").addEventListener("click", async () => {
  if (!pending) return;
  const reason = $("void-reason").value.trim();
  const { ok, answer } = await command(`${base}/voids`, { ...pending, reason });
  if (!ok) return;
  toast(`${answer.op}: ${answer.changed} changed, ${answer.unchanged} unchanged`);
  pending = null;
  $("preview-panel").hidden = true;
  $("void-reason").value = "";
  refresh();
});
$("preview-cancel").addEventListener("click", () => { pending = null; $("preview-panel").hidden = true; });
document.querySelectorAll("[data-single]").forEach((b) =>
  b.addEventListener("click", () => {
    const ids = $("single-vids").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (ids.length) ask({ op: b.dataset.single, vote_ids: ids }, `${b.dataset.single} ${ids.length} vote(s)`);
  }),
);

// The comment queue: oldest first, one selected; keys act on the selected comment, the next one
// is selected after each decision. Polled (the queue is the moderators' alone, never pushed).
let comments = [];
let selected = 0;
let lastComments = "";

function highlighted(c) {
  // The text with the filter's matches marked (textContent only: the text is the viewer's).
  const span = el("span", "text");
  let at = 0;
  const chars = [...c.text];
  for (const [start, end] of [...c.hits].sort((a, b) => a[0] - b[0])) {
    if (start < at) continue;
    span.append(chars.slice(at, start).join(""), el("mark", "hit", chars.slice(start, end).join("")));
    at = end;
  }
  span.append(chars.slice(at).join(""));
  return span;
}

function renderQueue() {
  const list = $("comment-queue");
  selected = Math.max(0, Math.min(selected, comments.length - 1));
  list.replaceChildren(
    ...comments.map((c, i) => {
      const li = el("li", i === selected ? "selected" : "");
      li.dataset.id = c.id;
      li.dataset.state = c.state;
      li.setAttribute("aria-selected", String(i === selected));
      li.append(highlighted(c));
      const actions = el("span", "actions");
      for (const [op, label] of [["approve", "通过 A"], ["reject", "拒绝 R"], ["ban", "封禁 B"]]) {
        if (op === "approve" && c.state === "approved") continue;
        if (op === "reject" && c.state === "rejected") continue;
        const b = el("button", op === "ban" ? "danger" : "", label);
        b.type = "button";
        b.dataset.op = op;
        b.addEventListener("click", () => { selected = i; decide(op); });
        actions.append(b);
      }
      li.append(actions);
      const meta = [when(c.at), c.src, c.reason && `原因 reason: ${c.reason}`, c.by && `${c.by}`, c.note]
        .filter(Boolean).join(" · ");
      li.append(el("span", "meta", meta));
      return li;
    }),
  );
  $("comment-empty").hidden = comments.length > 0;
  const sel = list.children[selected];
  if (sel && document.activeElement === list) sel.scrollIntoView({ block: "nearest" });
}

async function refreshComments() {
  const state = $("comment-state").value;
  const data = await get(`/comments?state=${state}&limit=200`);
  if (!data) return;
  $("comment-count").textContent = `${data.counts.pending} pending`;
  const signature = JSON.stringify(data.comments);
  if (signature === lastComments) return;
  const keep = comments[selected] && comments[selected].id;
  lastComments = signature;
  comments = data.comments;
  const again = comments.findIndex((c) => c.id === keep);
  if (again >= 0) selected = again;
  renderQueue();
}

async function decide(op) {
  const c = comments[selected];
  if (!c) return;
  const reason = $("comment-reason").value.trim();
  const { ok, answer } = await command(`${base}/comments/${encodeURIComponent(c.id)}`, { op, reason });
  if (!ok) return;
  toast(`${op}: ${c.text.slice(0, 20)}` + (answer.also_rejected ? ` (+${answer.also_rejected})` : ""));
  if ($("comment-state").value === "pending" || op !== "approve") {
    comments.splice(selected, 1);
    lastComments = "";
  }
  renderQueue();
  refreshComments();
  refresh();
}

document.addEventListener("keydown", (event) => {
  const typing = event.target instanceof HTMLElement && event.target.matches("input, textarea, select");
  if (event.key === "Escape" && typing) { event.target.blur(); $("comment-queue").focus(); return; }
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.toLowerCase();
  if (key === "j" || event.key === "ArrowDown") { selected += 1; renderQueue(); }
  else if (key === "k" || event.key === "ArrowUp") { selected -= 1; renderQueue(); }
  else if (key === "a") decide("approve");
  else if (key === "r") decide("reject");
  else if (key === "b") decide("ban");
  else if (key === "/") $("comment-reason").focus();
  else return;
  event.preventDefault();
});
$("comment-state").addEventListener("change", () => { selected = 0; lastComments = ""; refreshComments(); });
refreshComments();
setInterval(refreshComments, 1500);

let lastVersion = -1;
onState((s) => {
  if (s.version !== lastVersion) { lastVersion = s.version; refresh(); }
});
setInterval(refresh, 2000);

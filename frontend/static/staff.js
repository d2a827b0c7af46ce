// Shared by the staff consoles: the live staff socket, tallies, countdown, CSRF'd commands.
import { formatClock, keepConnected, remainingSeconds } from "./socket.js";
import { toast } from "./toast.js";

const app = document.getElementById("app");
export const showId = app.dataset.show;
export let state = JSON.parse(document.getElementById("initial-state").textContent);
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const listeners = [];

const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = String(text);
  return node;
};

export { toast }; // the consoles' messages (toast.js)

export async function command(path, body, method = "POST") {
  const res = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    credentials: "same-origin",
    body: method === "GET" ? undefined : JSON.stringify(body),
  });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) toast(answer.error ? `${answer.error.code}: ${answer.error.message}` : res.statusText);
  return { ok: res.ok, answer };
}

// Upload a file as the request body (a contestant's photo), with the CSRF token.
export async function upload(path, file) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": file.type || "application/octet-stream", "X-CSRF-Token": csrf },
    credentials: "same-origin",
    body: file,
  });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) toast(answer.error ? `${answer.error.code}: ${answer.error.message}` : res.statusText);
  return { ok: res.ok, answer };
}

export function onState(fn) {
  listeners.push(fn);
  fn(state);
}

function renderCommon(s) {
  const people = Object.fromEntries(s.contestants.map((c) => [c.id, c]));
  const onStage = document.getElementById("on-stage");
  const cur = people[s.stage.contestant];
  if (onStage) onStage.textContent = cur ? `${cur.order}. ${cur.name} · ${cur.innovation}` : "";
  const tallies = document.getElementById("tallies");
  if (!tallies) return;
  tallies.replaceChildren(
    ...s.categories.map((cat) => {
      const card = el("div", "card category");
      const h = el("h2", "", `${cat.name} `);
      h.append(el("span", "badge " + (cat.open ? "open" : "closed"), cat.open ? "open" : "closed"));
      if (cat.hidden) h.append(el("span", "badge", "hidden from viewers"));
      if (cat.voided) h.append(el("span", "badge voided", `${cat.voided} voided`));
      if (cat.ledger_head && !cat.open) h.append(el("span", "badge", `ledger #${cat.ledger_head.n} ${cat.ledger_head.h.slice(0, 12)}`));
      card.append(h);
      const counts = s.tallies[cat.id] || {};
      const top = Math.max(0, ...Object.values(counts));
      const list = el("ol", "bars");
      for (const cid of cat.contestants) {
        const row = el("li", "row");
        row.append(el("span", "name", people[cid]?.name || cid));
        const track = el("span", "track");
        const fill = el("span", "fill");
        fill.style.width = top ? (100 * (counts[cid] || 0)) / top + "%" : "0%";
        track.append(fill);
        row.append(track, el("span", "count", (counts[cid] || 0).toLocaleString()));
        list.append(row);
      }
      card.append(list);
      for (const [platform, cats] of Object.entries(s.sources || {})) {
        const chat = cats[cat.id];
        if (!chat || !Object.values(chat).some((n) => n)) continue;
        const parts = cat.contestants.filter((cid) => chat[cid]).map((cid) => `${people[cid]?.name || cid} ${chat[cid]}`);
        const line = el("p", "muted source", `${platform} 聊天投票 chat votes: ${parts.join(" · ")}`);
        line.dataset.source = platform;
        card.append(line);
      }
      if (window.liveAdmin) card.append(window.liveAdmin.categoryControls(cat, s));
      return card;
    }),
  );
}

keepConnected(`/ws/staff/${encodeURIComponent(showId)}`, {
  onStatus: (status) => {
    if (status === "denied") toast("signed out / not allowed");
  },
  onSnapshot: (msg) => {
    state = msg;
    renderCommon(state);
    listeners.forEach((fn) => fn(state));
  },
});
renderCommon(state);
setInterval(() => {
  const node = document.getElementById("countdown");
  if (node) node.textContent = formatClock(remainingSeconds(state));
}, 250);

document.getElementById("logout").addEventListener("click", async () => {
  await command("/staff/logout", {});
  location.reload();
});

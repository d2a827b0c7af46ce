// The viewer page: renders snapshots, votes, batches likes, reconnects with jittered backoff.
import { toast } from "./toast.js";
import { STRINGS, pickLang } from "./i18n.js";
import { formatClock, keepConnected, remainingSeconds } from "./socket.js";
import { castVote, leftText, myVotes } from "./vote.js";
import { verifyIdentity } from "./identity.js";
const PLATFORM_NAMES = { bilibili: "哔哩哔哩 bilibili", douyin: "抖音 Douyin", twitch: "Twitch" };

const app = document.getElementById("app");
const showId = app.dataset.show;
let lang = pickLang();
let t = STRINGS[lang];
let state = JSON.parse(document.getElementById("initial-state").textContent);
let socket = null;
let pendingTaps = 0;

const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = String(text);
  return node;
};
const local = (obj, key) => (lang === "en" ? obj[key + "_en"] : obj[key]);
const byId = () => Object.fromEntries(state.contestants.map((c) => [c.id, c]));

let mine = {}; // this device's votes per category, from the server
// A vote waiting for a WeChat or OIDC sign-in, which leaves the page and comes back to it.
const PENDING = "live.pending-vote";
let query = "";

function render() {
  const people = byId();
  document.documentElement.lang = lang;
  document.getElementById("title").textContent = local(state.show, "title");
  const langButton = document.getElementById("lang");
  langButton.textContent = t.switch;
  document.getElementById("search").placeholder = t.search;

  const stage = document.getElementById("stage");
  const cur = people[state.stage.contestant];
  const label = state.stage.phase === "waiting" ? t.up_next : t["phase_" + state.stage.phase] || t.on_stage;
  stage.replaceChildren(el("div", "label", label), el("div", "countdown", ""));
  stage.lastChild.id = "countdown";
  if (cur) {
    stage.append(el("div", "now-name", local(cur, "name")));
    stage.append(el("div", "now-org", local(cur, "organisation")));
    stage.append(el("div", "now-title", local(cur, "innovation")));
  } else {
    stage.append(el("div", "now-name", t.waiting));
  }

  const cats = document.getElementById("categories");
  cats.replaceChildren(
    ...state.categories.map((cat) => {
      const card = el("div", "card category");
      card.dataset.category = cat.id;
      const h = el("h2", "", local(cat, "name") + " ");
      h.append(el("span", "badge " + (cat.open ? "open" : "closed"), cat.open ? t.open : t.closed));
      if (cat.voided) h.append(el("span", "badge voided", t.voided.replace("{n}", cat.voided)));
      card.append(h);
      const use = mine[cat.id];
      const spent = Boolean(use) && use.left === 0;
      const tier = cat.identity || "device";
      if (tier !== "device" && !(use && use.verified)) {
        h.append(el("span", "badge identity", t["id_badge_" + tier]));
      }
      if (use) card.append(el("p", "left" + (spent ? " spent" : ""), leftText(t, use.left)));
      if (cat.ledger_head && !cat.open) {
        const head = cat.ledger_head;
        card.append(el("p", "muted ledger-head", `${t.ledger_head} #${head.n} ${head.h.slice(0, 12)}`));
      }
      const tally = state.tallies[cat.id];
      if (!tally) card.append(el("p", "muted", t.hidden));
      const top = tally ? Math.max(0, ...Object.values(tally)) : 0;
      const list = el("ol", "bars");
      for (const cid of cat.contestants) {
        const person = people[cid];
        const name = person ? local(person, "name") : cid;
        const number = person ? person.number : "";
        if (query && !number.toLowerCase().includes(query) && !name.toLowerCase().includes(query)) continue;
        const row = el("li", "row");
        if (person && person.photo) {
          const img = el("img", "thumb");
          img.src = person.photo;
          img.alt = name;
          img.loading = "lazy";
          img.width = img.height = 40;
          row.append(img);
        }
        row.append(el("span", "num", number));
        const link = el("a", "name", name);
        link.href = `/s/${encodeURIComponent(showId)}/c/${encodeURIComponent(cid)}${lang === "en" ? "?lang=en" : ""}`;
        row.append(link);
        if (tally) {
          const track = el("span", "track");
          const fill = el("span", "fill");
          fill.style.width = top ? (100 * tally[cid]) / top + "%" : "0%";
          track.append(fill);
          row.append(track, el("span", "count", (tally[cid] || 0).toLocaleString()));
        }
        const open = cat.open && (!cat.only || cat.only === cid);
        const button = el("button", "vote" + (spent ? " done" : ""), spent ? t.voted : t.vote);
        button.type = "button";
        button.disabled = !open || spent;
        button.dataset.contestant = cid;
        button.addEventListener("click", () => vote(cat.id, cid, button));
        row.append(button);
        list.append(row);
      }
      card.append(list);
      // Chat votes from the live platforms, each source on its own line (kept apart from the
      // votes cast here; the category's rules say how they are merged).
      for (const [platform, cats] of Object.entries(state.sources || {})) {
        const chat = cats[cat.id];
        if (!chat || !Object.values(chat).some((n) => n)) continue;
        const parts = cat.contestants.filter((cid) => chat[cid]).map((cid) => `${people[cid] ? people[cid].number : cid} ${chat[cid].toLocaleString()}`);
        const line = el("p", "muted source", `${PLATFORM_NAMES[platform] || platform}: ${parts.join(" · ")}`);
        line.dataset.source = platform;
        card.append(line);
      }
      return card;
    }),
  );

  const order = document.getElementById("order");
  const ol = el("ol");
  for (const c of state.contestants) {
    const li = el("li", c.id === state.stage.contestant ? "current" : "", `${local(c, "name")} · ${local(c, "innovation")}`);
    ol.append(li);
  }
  order.replaceChildren(el("h2", "", t.running_order), ol);

  document.getElementById("likes-counted").textContent = state.likes.counted.toLocaleString();
  document.getElementById("likes-taps").textContent = state.likes.taps.toLocaleString();
  document.getElementById("likes-label").textContent = t.likes;
  document.getElementById("taps-label").textContent = t.taps;
  renderComments();
}

// Comments: the strip shows the approved ones the snapshots carry, and this phone's own comments
// still waiting for a moderator (only their sender sees them, marked pending).
const OWN_KEY = `live.comments.${showId}`;
const OWN_MS = 30 * 60 * 1000; // a comment still pending after half an hour is not shown again
const own = new Map(); // id -> {text, at}; kept across reloads of the page
try {
  for (const [id, c] of JSON.parse(localStorage.getItem(OWN_KEY) || "[]")) {
    if (Date.now() - c.at < OWN_MS) own.set(id, c);
  }
} catch { /* storage unavailable or malformed: start empty */ }
const saveOwn = () => {
  try { localStorage.setItem(OWN_KEY, JSON.stringify([...own].slice(-20))); } catch { /* full or off */ }
};

function renderComments() {
  const strip = document.getElementById("comment-strip");
  if (!strip) return;
  const cfg = state.show.comments || {};
  document.getElementById("comments-title").textContent = t.comments;
  document.getElementById("comment-text").placeholder = t.say;
  document.getElementById("comment-label").textContent = t.say;
  document.getElementById("comment-send").textContent = t.send;
  document.getElementById("comment-note").textContent =
    cfg.moderation === "post" ? t.comment_note_post : t.comment_note_pre;
  const approved = state.comments || [];
  const before = own.size;
  for (const c of approved) own.delete(c.id);
  if (own.size !== before) saveOwn();
  const items = [
    ...approved.map((c) => ({ ...c, pending: false })),
    ...[...own].map(([id, c]) => ({ id, text: c.text, at: c.at, pending: true })),
  ].slice(-20);
  strip.replaceChildren(
    ...items.map((c) => {
      const li = el("li", c.pending ? "comment pending" : "comment");
      li.dataset.id = c.id;
      if (c.src && c.src !== "web") li.append(el("span", "src", PLATFORM_NAMES[c.src] || c.src), " ");
      li.append(el("span", "text", c.text));
      if (c.pending) li.append(" ", el("span", "badge", t.comment_pending));
      return li;
    }),
  );
}

async function sendComment(text) {
  const commentId = crypto.getRandomValues(new Uint32Array(4)).join("").slice(0, 32);
  let res;
  try {
    res = await fetch(`/api/shows/${encodeURIComponent(showId)}/comments`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ text, comment_id: `c${commentId}` }),
    });
  } catch {
    toast(t.error);
    return false;
  }
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) {
    const code = (answer.error || {}).code;
    toast(code === "comment_limited" ? t.comment_limited : code === "comment_banned" ? t.comment_banned
      : (answer.error || {}).message || t.error);
    return false;
  }
  if (answer.state === "pending") {
    own.set(answer.id, { text, at: Date.now() });
    saveOwn();
  }
  else if (answer.state === "rejected") toast(t.comment_rejected);
  else if (answer.state === "dropped") toast(t.comment_dropped);
  renderComments();
  return answer.state !== "rejected";
}

const form = document.getElementById("comment-form");
if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("comment-text");
    const text = input.value.trim();
    if (!text) return;
    input.disabled = true;
    if (await sendComment(text)) input.value = "";
    input.disabled = false;
    input.focus();
  });
}

async function vote(category, contestant, button) {
  button.disabled = true;
  let answer = await castVote(showId, category, contestant);
  const needs = answer && answer.error && answer.error.code === "identity_required" ? answer.error.identity : "";
  if (needs) {
    // The award needs a verified identity: say what is kept, verify, then cast the vote.
    const retentionDays = Number(app.dataset.retention) || 30;
    const onLeave = () => sessionStorage.setItem(PENDING, JSON.stringify({ showId, category, contestant }));
    const verified = await verifyIdentity(needs, t, { retentionDays, next: location.pathname + location.search, onLeave });
    answer = verified ? await castVote(showId, category, contestant) : { status: "cancelled" };
    if (!verified) {
      button.disabled = false;
      return;
    }
  }
  if (!answer) {
    toast(t.error);
    button.disabled = false;
    return;
  }
  const status = answer.status || "error";
  toast(status === "closed" ? t.closed_vote : t[status] || t.error);
  mine = await myVotes(showId); // the server says what is left, not a guess
  render();
}

function flushLikes() {
  if (!pendingTaps) return;
  const n = Math.min(pendingTaps, 200);
  if (socket && socket.send({ type: "like", n })) {
    pendingTaps -= n;
  } else {
    pendingTaps -= n;
    fetch(`/api/shows/${encodeURIComponent(showId)}/likes`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ n }),
    }).catch(() => {
      pendingTaps += n;
    });
  }
}

function setConn(kind) {
  const node = document.getElementById("conn");
  node.dataset.state = kind;
  node.textContent = kind === "open" ? "" : kind === "connecting" ? t.connecting : t.offline;
}

function tickCountdown() {
  const node = document.getElementById("countdown");
  const left = remainingSeconds(state);
  node.textContent = left === null ? "" : `${t.countdown} ${formatClock(left)}`;
}

document.getElementById("like").addEventListener("click", () => {
  pendingTaps += 1;
  state.likes.taps += 1;
  document.getElementById("likes-taps").textContent = state.likes.taps.toLocaleString();
});
setInterval(flushLikes, 500);

document.getElementById("lang").addEventListener("click", () => {
  lang = lang === "en" ? "zh-CN" : "en";
  t = STRINGS[lang];
  localStorage.setItem("live.lang", lang);
  render();
});

const search = document.getElementById("search");
search.placeholder = t.search;
search.addEventListener("input", () => {
  query = search.value.trim().toLowerCase();
  render();
});

// Back from a sign-in: cast the vote it was for, once (a sign-in that failed leaves the
// vote refused with identity_required, said in the toast, and the buttons to try again).
async function castPending() {
  // A redirect keeps the fragment of the page it came from: WeChat's is noise in a shared link.
  if (location.hash === "#wechat_redirect") history.replaceState(null, "", location.pathname + location.search);
  const raw = sessionStorage.getItem(PENDING);
  if (!raw) return;
  sessionStorage.removeItem(PENDING);
  let pending = null;
  try {
    pending = JSON.parse(raw);
  } catch (err) {
    return;
  }
  if (!pending || pending.showId !== showId) return;
  const answer = await castVote(showId, pending.category, pending.contestant);
  const status = answer && answer.status ? answer.status : "error";
  const needs = answer && answer.error && answer.error.code === "identity_required";
  toast(needs ? t["id_badge_" + answer.error.identity] : status === "closed" ? t.closed_vote : t[status] || t.error);
  mine = await myVotes(showId);
  render();
}

render();
myVotes(showId).then((found) => {
  mine = found;
  render();
  castPending();
});
socket = keepConnected(`/ws/shows/${encodeURIComponent(showId)}`, {
  onStatus: setConn,
  onSnapshot: (msg) => {
    state = msg;
    render();
  },
});
setInterval(tickCountdown, 250);

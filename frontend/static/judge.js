// The judge's tablet: sheets per contestant with drafts, submit, lock, recusal and approval.
// A flaky network loses nothing: every change keeps its save_id until the server has it, and a
// retry sends the same save_id, so the server applies it once (it answers "replay").
const staff = await import("./staff.js");
const { showId, state, toast } = staff;
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const people = Object.fromEntries(state.contestants.map((c) => [c.id, c]));
const select = document.getElementById("sheet-category");
const holder = document.getElementById("sheets");
const netState = document.getElementById("net-state");
let criteria = [];
const rows = new Map(); // contestant -> {rev, state, node}
let pending = 0;

const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = String(text);
  return node;
};
const newId = () => Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function send(path, body) {
  // Retries network failures and 5xx with the same body (same save_id) until it lands.
  pending += 1;
  netState.textContent = "保存中 saving…";
  for (let attempt = 0; ; attempt += 1) {
    try {
      const res = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        credentials: "same-origin",
        body: JSON.stringify(body),
      });
      if (res.status < 500) {
        const answer = await res.json().catch(() => ({}));
        pending -= 1;
        netState.textContent = pending ? "保存中 saving…" : "已同步 synced";
        return { ok: res.ok, answer };
      }
    } catch (_) {
      // offline or the reply was lost: try again with the same save_id
    }
    netState.textContent = `未保存，重试中 not saved, retrying (${attempt + 1})`;
    await sleep(Math.min(8000, 500 * 2 ** attempt) * (0.5 + Math.random()));
  }
}

function marksOf(node) {
  const marks = {};
  for (const input of node.querySelectorAll("input[data-criterion]")) {
    if (input.value !== "") marks[input.dataset.criterion] = input.value;
  }
  return marks;
}

function paint(contestant, sheet, approve) {
  const row = rows.get(contestant);
  row.rev = sheet.rev;
  row.state = sheet.state;
  const locked = sheet.state === "locked";
  const recused = sheet.state === "recused";
  for (const input of row.node.querySelectorAll("input[data-criterion]")) {
    const v = sheet.marks[input.dataset.criterion];
    input.value = v === undefined ? "" : v;
    input.disabled = locked || recused;
  }
  const total = Object.values(sheet.marks).reduce((a, b) => a + Number(b), 0);
  row.node.querySelector(".total").textContent = `合计 total ${total}`;
  const status = row.node.querySelector(".status");
  const when = sheet.at ? new Date(sheet.at).toLocaleTimeString() : "";
  status.textContent = `${sheet.state} · rev ${sheet.rev}${when ? " · " + when : ""}` +
    (sheet.corrections ? ` · 更正 corrected ×${sheet.corrections}` : "");
  row.node.dataset.state = sheet.state;
  for (const b of row.node.querySelectorAll("button[data-op]")) {
    const op = b.dataset.op;
    b.disabled = locked || (recused ? op !== "unrecuse" : op === "unrecuse");
  }
  if (approve !== undefined) {
    row.node.querySelector(".approval").textContent =
      approve === null ? "未表决 no vote" : approve ? "同意 approve" : "不同意 reject";
  }
}

async function change(contestant, op) {
  const row = rows.get(contestant);
  if (op === "lock" && !confirm("锁定后不能再修改。Lock this sheet? It cannot be changed afterwards.")) return;
  const body = { op, marks: op === "recuse" || op === "unrecuse" ? {} : marksOf(row.node), save_id: newId(), base: row.rev };
  const { ok, answer } = await send(`/api/shows/${showId}/sheets/${select.value}/${contestant}`, body);
  if (ok) {
    paint(contestant, answer.sheet);
    toast(answer.status === "replay" ? "已保存 already saved" : "已保存 saved");
  } else {
    const e = answer.error || {};
    toast(`${e.code}: ${e.message}`);
    const bad = e.field && row.node.querySelector(`input[data-criterion="${e.field.replace("marks.", "")}"]`);
    if (bad) bad.focus();
    if (e.code === "sheet_conflict") await load();
  }
}

async function approve(contestant, value) {
  const { ok, answer } = await send(`/api/shows/${showId}/approvals/${select.value}/${contestant}`, { approve: value });
  if (ok) paint(contestant, { ...rows.get(contestant), marks: marksOf(rows.get(contestant).node) }, answer.approve);
}

async function load() {
  const res = await fetch(`/api/shows/${showId}/sheets/${select.value}`, { credentials: "same-origin" });
  if (!res.ok) return toast("加载失败 could not load the sheets");
  const data = await res.json();
  criteria = data.criteria;
  rows.clear();
  holder.replaceChildren();
  for (const r of data.rows) {
    const who = people[r.contestant] || { name: r.contestant, order: "" };
    const node = el("div", "card sheet");
    node.dataset.contestant = r.contestant;
    node.append(el("h3", "", `${who.order}. ${who.name} · ${who.innovation || ""}`));
    const grid = el("div", "marks");
    for (const c of criteria) {
      const label = el("label", "", `${c.name} ${c.name_en} (${c.min}–${c.max}) `);
      const input = el("input");
      Object.assign(input, { type: "number", min: c.min, max: c.max, step: c.step, inputMode: "decimal" });
      input.dataset.criterion = c.id;
      label.append(input);
      grid.append(label);
    }
    node.append(grid, el("p", "total"), el("p", "status muted"));
    const buttons = el("div", "controls");
    for (const [op, text] of [["save", "保存草稿 Save draft"], ["submit", "提交 Submit"], ["lock", "锁定 Lock"], ["recuse", "回避 Recuse"], ["unrecuse", "取消回避 Undo recusal"]]) {
      const b = el("button", op === "lock" ? "danger" : "", text);
      b.type = "button";
      b.dataset.op = op;
      b.addEventListener("click", () => change(r.contestant, op));
      buttons.append(b);
    }
    const yes = el("button", "", "同意 Approve");
    const no = el("button", "", "不同意 Reject");
    yes.type = no.type = "button";
    yes.dataset.approve = "yes";
    no.dataset.approve = "no";
    yes.addEventListener("click", () => approve(r.contestant, true));
    no.addEventListener("click", () => approve(r.contestant, false));
    buttons.append(yes, no, el("span", "approval badge"));
    node.append(buttons);
    holder.append(node);
    rows.set(r.contestant, { rev: r.rev, state: r.state, node });
    paint(r.contestant, r, r.approve);
  }
  await results();
}

async function results() {
  const res = await fetch(`/api/shows/${showId}/results/${select.value}`, { credentials: "same-origin" });
  if (!res.ok) return;
  const data = await res.json();
  const body = document.querySelector("#provisional tbody");
  body.replaceChildren(...data.rows.map((r) => {
    const tr = el("tr");
    for (const v of [r.place, (people[r.contestant] || {}).name || r.contestant, r.expert, r.audience, r.total, r.decided_by]) tr.append(el("td", "", v));
    return tr;
  }));
}

select.addEventListener("change", load);
document.getElementById("refresh-results").addEventListener("click", results);
setInterval(() => { if (!pending) results(); }, 5000);
await load();

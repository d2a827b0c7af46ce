// The admin console: stage actions, reveal/hide, overlay category, freeze, overlay key.
const byId = (id) => document.getElementById(id);

window.liveAdmin = {
  categoryControls(cat, s) {
    const wrap = document.createElement("div");
    wrap.className = "controls";
    const revealed = s.revealed.includes(cat.id);
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = revealed ? "对观众隐藏 Hide from viewers" : "向观众公布 Reveal to viewers";
    button.dataset.reveal = cat.id;
    button.addEventListener("click", () =>
      staff.command(`/api/shows/${encodeURIComponent(staff.showId)}/display`, {
        op: revealed ? "hide" : "reveal",
        category: cat.id,
      }),
    );
    wrap.append(button);
    return wrap;
  },
};

const staff = await import("./staff.js");
const api = (path) => `/api/shows/${encodeURIComponent(staff.showId)}${path}`;

for (const button of document.querySelectorAll("button[data-action]")) {
  button.addEventListener("click", async () => {
    const action = button.dataset.action;
    const body = { action };
    if (action === "present") body.contestant = byId("present-who").value;
    if (action === "open_voting") {
      body.category = byId("vote-category").value;
      body.for_contestant = byId("for-contestant").checked;
    }
    if (action === "show_results") body.category = byId("vote-category").value;
    if (["open_voting", "countdown"].includes(action)) body.seconds = Number(byId("seconds").value) || 0;
    const { ok } = await staff.command(api("/stage"), body);
    if (ok) staff.toast(`✓ ${action}`);
  });
}

byId("overlay-category").addEventListener("change", (e) =>
  staff.command(api("/display"), { op: "overlay_category", category: e.target.value }),
);
byId("overlay-top").addEventListener("change", (e) =>
  staff.command(api("/display"), { op: "overlay_top", n: Number(e.target.value) }),
);
byId("freeze").addEventListener("click", () => staff.command(api("/display"), { op: "freeze" }));
byId("unfreeze").addEventListener("click", () => staff.command(api("/display"), { op: "unfreeze" }));

async function showOverlayLink(rotate) {
  const { ok, answer } = await staff.command(api("/overlay-key"), {}, rotate ? "POST" : "GET");
  if (ok) byId("overlay-link").href = answer.url;
}
byId("rotate-key").addEventListener("click", () => showOverlayLink(true));
showOverlayLink(false);

staff.onState((s) => {
  byId("phase").textContent = s.stage.phase;
  byId("frozen-state").textContent = s.overlay.frozen ? "frozen" : "live";
  // "Follow the show" ("") unless the admin pinned a category; the badge says what is on air.
  byId("overlay-category").value = s.overlay.pinned ? s.overlay.category : "";
  const showing = s.categories.find((c) => c.id === s.overlay.category);
  byId("overlay-showing").textContent = (showing && showing.name) || s.overlay.category;
});

// Before the show: running order (up/down), contestant details, category rules.
function renderOrder(s) {
  const list = byId("running-order");
  const ids = s.contestants.map((c) => c.id);
  list.replaceChildren(
    ...s.contestants.map((c, i) => {
      const li = document.createElement("li");
      li.textContent = `${c.name} · ${c.organisation} · ${c.innovation} `;
      for (const [label, delta] of [["▲", -1], ["▼", 1]]) {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = label;
        b.disabled = s.stage.phase !== "waiting" || i + delta < 0 || i + delta >= ids.length;
        b.addEventListener("click", () => {
          const order = [...ids];
          [order[i], order[i + delta]] = [order[i + delta], order[i]];
          staff.command(api("/running-order"), { order });
        });
        li.append(b);
      }
      return li;
    }),
  );
}

function fillDetails(s) {
  const c = s.contestants.find((x) => x.id === byId("edit-who").value);
  if (!c) return;
  byId("edit-name").value = c.name;
  byId("edit-name-en").value = c.name_en;
  byId("edit-org").value = c.organisation;
  byId("edit-org-en").value = c.organisation_en;
  byId("edit-innovation").value = c.innovation;
  byId("edit-innovation-en").value = c.innovation_en;
}

function fillRules(s) {
  const cat = s.categories.find((x) => x.id === byId("rules-category").value);
  if (!cat) return;
  byId("rules-cap").value = cat.votes_per_device;
  byId("rules-per").value = cat.per_contestant;
  byId("rules-hide").checked = cat.hide_tallies;
  byId("save-rules").disabled = cat.rules_frozen;
}

byId("edit-who").addEventListener("change", () => fillDetails(staff.state));
byId("rules-category").addEventListener("change", () => fillRules(staff.state));
byId("save-details").addEventListener("click", async () => {
  const { ok } = await staff.command(api(`/contestants/${encodeURIComponent(byId("edit-who").value)}`), {
    name: byId("edit-name").value,
    name_en: byId("edit-name-en").value,
    organisation: byId("edit-org").value,
    organisation_en: byId("edit-org-en").value,
    innovation: byId("edit-innovation").value,
    innovation_en: byId("edit-innovation-en").value,
  });
  if (ok) staff.toast("✓ saved");
});
byId("upload-photo").addEventListener("click", async () => {
  const file = byId("photo-file").files[0];
  if (!file) return staff.toast("选择图片 choose an image first");
  const who = encodeURIComponent(byId("edit-who").value);
  const { ok, answer } = await staff.upload(api(`/contestants/${who}/photo`), file);
  if (ok) {
    const preview = byId("photo-preview");
    preview.src = answer.photo;
    preview.hidden = false;
    staff.toast("✓ photo saved");
  }
});
byId("save-rules").addEventListener("click", async () => {
  const { ok } = await staff.command(api(`/categories/${encodeURIComponent(byId("rules-category").value)}/rules`), {
    votes_per_device: Number(byId("rules-cap").value),
    per_contestant: Number(byId("rules-per").value),
    hide_tallies: byId("rules-hide").checked,
  });
  if (ok) staff.toast("✓ saved");
});
staff.onState((s) => {
  renderOrder(s);
  fillRules(s);
});
fillDetails(staff.state);

// Results: provisional (live), what-if preview with other weights, publish (a new version).
const resultsCategory = byId("results-category");
const people = Object.fromEntries(staff.state.contestants.map((c) => [c.id, c]));

function showResult(data, label) {
  const eff = data.effective_weights;
  byId("results-meta").textContent = `${label} · rules ${data.rules_hash.slice(0, 12)} · ledger ${data.position}` +
    (eff ? ` · effective weights expert ${eff.expert} / audience ${eff.audience}` : "");
  byId("results-table").querySelector("tbody").replaceChildren(...data.rows.map((r) => {
    const tr = document.createElement("tr");
    for (const v of [r.place, (people[r.contestant] || {}).name || r.contestant, r.expert, r.audience, r.total, r.award || "", r.decided_by]) {
      const td = document.createElement("td");
      td.textContent = String(v);
      tr.append(td);
    }
    return tr;
  }));
  byId("results-link").href = `/results/${encodeURIComponent(staff.showId)}/${encodeURIComponent(resultsCategory.value)}`;
}

async function refreshResults() {
  const { ok, answer } = await staff.command(api(`/results/${resultsCategory.value}`), undefined, "GET");
  if (ok) showResult(answer, "临时 provisional");
}

byId("results-refresh").addEventListener("click", refreshResults);
resultsCategory.addEventListener("change", refreshResults);
byId("results-preview").addEventListener("click", async () => {
  const combine = {};
  if (byId("whatif-expert").value !== "") combine.expert_weight = Number(byId("whatif-expert").value);
  if (byId("whatif-audience").value !== "") combine.audience_weight = Number(byId("whatif-audience").value);
  const { ok, answer } = await staff.command(api(`/results/${resultsCategory.value}/preview`), { combine });
  if (ok) showResult(answer, "假设 what-if preview (not published)");
});
byId("results-publish").addEventListener("click", async () => {
  if (!confirm("发布结果？Publish this result as a new version?")) return;
  const { ok, answer } = await staff.command(api(`/results/${resultsCategory.value}/publish`), { note: byId("publish-note").value });
  if (ok) {
    staff.toast(`✓ published version ${answer.version}` + (answer.diff.length ? ` (${answer.diff.length} changes)` : ""));
    showResult(answer.result, `已发布 published v${answer.version}`);
  }
});
refreshResults();

// -- votes and likes per minute since voting opened (polled: a plot, not a live counter) ------
const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#f5a524", "#4cc38a", "#5b9cf5", "#e5484d", "#b084f5", "#2ec5ce", "#f07cc0"];

function plot(svg, series) {
  const width = 600;
  const height = 160;
  const longest = Math.max(1, ...series.map((s) => s.values.length));
  const top = Math.max(1, ...series.flatMap((s) => s.values));
  const nodes = [];
  for (const frac of [0.5, 1]) {
    const line = document.createElementNS(SVG, "line");
    const y = String(height - frac * (height - 10));
    line.setAttribute("x1", "0"); line.setAttribute("x2", String(width));
    line.setAttribute("y1", y); line.setAttribute("y2", y);
    line.setAttribute("class", "grid");
    nodes.push(line);
  }
  for (const s of series) {
    const line = document.createElementNS(SVG, "polyline");
    const step = longest > 1 ? width / (longest - 1) : 0;
    const points = s.values.map((v, i) => `${(i * step).toFixed(1)},${(height - (v / top) * (height - 10)).toFixed(1)}`);
    if (points.length === 1) points.push(`${width},${points[0].split(",")[1]}`);
    line.setAttribute("points", points.join(" "));
    line.setAttribute("stroke", s.colour);
    line.setAttribute("fill", "none");
    line.setAttribute("stroke-width", "2");
    line.setAttribute("vector-effect", "non-scaling-stroke");
    line.dataset.series = s.name;
    nodes.push(line);
  }
  svg.replaceChildren(...nodes);
  return top;
}

async function refreshActivity() {
  const res = await fetch(api("/activity"), { credentials: "same-origin" });
  if (!res.ok) return;
  const a = await res.json();
  if (a.since === null) return;
  const names = Object.fromEntries(staff.state.categories.map((c) => [c.id, c.name]));
  const votes = Object.entries(a.votes).map(([cat, values], i) => ({ name: names[cat] || cat, values, colour: COLOURS[i % COLOURS.length] }));
  const topVotes = plot(byId("votes-chart"), votes);
  const topLikes = plot(byId("likes-chart"), [{ name: "likes", values: a.likes, colour: "#f07cc0" }]);
  const last = (values) => values[values.length - 1] ?? 0;
  byId("activity-since").textContent = `· 自 since ${new Date(a.since).toLocaleTimeString()}`;
  byId("votes-summary").textContent = `每分钟投票 votes/min (峰值 peak ${topVotes}); 最近一分钟 last minute: ` + votes.map((v) => `${v.name} ${last(v.values)}`).join(", ");
  byId("likes-summary").textContent = `每分钟点赞 like taps/min (峰值 peak ${topLikes}); 最近一分钟 last minute: ${last(a.likes)}`;
  byId("activity-legend").replaceChildren(...votes.map((v) => {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.color = v.colour; // CSSOM, which the page's CSP allows (no style attribute)
    swatch.textContent = "━ ";
    li.append(swatch, document.createTextNode(v.name));
    return li;
  }));
}

refreshActivity();
setInterval(refreshActivity, 15000);

// Platform rooms (bilibili, Douyin, Twitch): this process's view of each, and what each
// platform's events added. Hidden for a show that lists none.
async function refreshPlatforms() {
  const res = await fetch(api("/ingest"), { credentials: "same-origin" });
  if (!res.ok) return;
  const { sources, figures } = await res.json();
  byId("platforms-panel").hidden = sources.length === 0;
  byId("platforms").tBodies[0].replaceChildren(...sources.map((src) => {
    const f = figures[src.platform] || {};
    const state = src.connected ? "已连接 connected" : `未连接 not connected${src.error ? ` · ${src.error}` : ""}`;
    const cells = [src.platform, src.room, state, src.events, src.counted, src.duplicates, src.bad_signatures,
      src.last_event ? `${(src.lag_ms / 1000).toFixed(1)} s` : "—", `${f.votes || 0} / ${f.likes || 0} / ${f.gifts || 0}`];
    const tr = document.createElement("tr");
    tr.dataset.platform = src.platform;
    for (const value of cells) {
      const td = document.createElement("td");
      td.textContent = String(value);
      tr.append(td);
    }
    return tr;
  }));
}

refreshPlatforms();
setInterval(refreshPlatforms, 5000);

// Comments: the overlay's danmaku layer (on/off, density, pinned messages) and the word list.
if (byId("danmaku-panel")) {
  const item = (text, label, body) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.addEventListener("click", () => staff.command(api("/danmaku"), body));
    li.append(document.createTextNode(text + " "), button);
    return li;
  };
  let synced = false;
  staff.onState((s) => {
    const dm = s.danmaku || { enabled: false, density: 8, pinned: [] };
    if (!synced) {
      byId("danmaku-on").checked = dm.enabled;
      byId("danmaku-density").value = dm.density;
      synced = true;
    }
    byId("danmaku-pinned").replaceChildren(...dm.pinned.map((p) => item(p.text, "取消置顶 Unpin", { unpin: p.id })));
    const pinned = new Set(dm.pinned.map((p) => p.id));
    byId("danmaku-latest").replaceChildren(...(s.comments || []).slice(-8).reverse()
      .filter((c) => !pinned.has(c.id)).map((c) => item(c.text, "置顶 Pin", { pin: c.id })));
  });
  byId("danmaku-save").addEventListener("click", () => staff.command(api("/danmaku"), {
    enabled: byId("danmaku-on").checked,
    density: Number(byId("danmaku-density").value) || 8,
  }));

  const showWords = (w) => {
    byId("wordlist-count").textContent = `${w.words}`;
    byId("wordlist-edits").textContent =
      `+ ${w.added.join("、") || "—"} · − ${w.removed.join("、") || "—"} · 放行 allowed: ${w.allowed.join("、") || "—"}`;
  };
  fetch(api("/wordlist"), { credentials: "same-origin" }).then((r) => r.ok && r.json()).then((w) => w && showWords(w));
  document.querySelectorAll("[data-words]").forEach((b) => b.addEventListener("click", async () => {
    const words = byId("wordlist-words").value.split(/[,，、\n]/).map((x) => x.trim()).filter(Boolean);
    if (!words.length) return;
    const { ok, answer } = await staff.command(api("/wordlist"), { [b.dataset.words]: words });
    if (ok) { showWords(answer); byId("wordlist-words").value = ""; staff.toast("已更新 updated"); }
  }));
}

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
  byId("overlay-category").value = s.overlay.category;
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

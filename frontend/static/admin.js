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

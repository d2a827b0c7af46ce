// The setup page: a show's contestants, categories (rules with a live preview of a sample
// result), staff invites, sheet and show-file import. The show is edited here as the show
// file's document and saved whole; the server checks it and keeps it only while the show waits.
import * as staff from "./staff.js";

const byId = (id) => document.getElementById(id);
const api = (rest = "") => `/api/shows/${encodeURIComponent(staff.showId)}${rest}`;
const csrf = document.querySelector('meta[name="csrf-token"]').content;

let doc = null; // the show file's document, as edited here
let rev = "";
let editable = false;
let presets = {}; // category id -> the shipped preset its saved rules are exactly
let presetNames = []; // the shipped presets (the server's list)

const el = (tag, attrs = {}, text) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  if (text !== undefined) node.textContent = String(text);
  return node;
};

// A field bound to obj[key]; empty optional text is removed rather than sent as "".
function input(obj, key, label, { optional = false, type = "text", area = false, onChange } = {}) {
  const node = el(area ? "textarea" : "input", { "aria-label": label });
  if (!area) node.type = type;
  node.value = obj[key] ?? "";
  node.disabled = !editable;
  node.addEventListener("input", () => {
    let v = node.value;
    if (type === "number") v = v === "" ? undefined : Number(v);
    if ((v === "" || v === undefined) && optional) delete obj[key];
    else obj[key] = v;
    if (onChange) onChange();
  });
  return node;
}

async function send(path, body, type) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": type, "X-CSRF-Token": csrf },
    credentials: "same-origin",
    body,
  });
  const answer = await res.json().catch(() => ({}));
  return { ok: res.ok, answer };
}

function showProblems(title, error) {
  const box = byId("problems");
  const body = byId("problems-table").tBodies[0];
  const problems = error?.problems || (error ? [{ where: error.code, why: error.message }] : []);
  byId("problems-title").textContent = `${title}: ${problems.length}`;
  body.replaceChildren(
    ...problems.map((p) => {
      const tr = el("tr");
      tr.append(el("td", {}, p.where), el("td", {}, p.why));
      return tr;
    }),
  );
  box.hidden = problems.length === 0;
}

function failed(title, answer) {
  showProblems(title, answer.error);
  staff.toast(answer.error ? `${answer.error.code}: ${answer.error.message}` : title);
}

// -- contestants -----------------------------------------------------------------------------

function photoCell(c) {
  const td = el("td");
  if (c.photo) {
    const img = el("img", {
      class: "thumb",
      alt: c.name || c.id,
      width: "48",
      height: "48",
      src: `/s/${encodeURIComponent(staff.showId)}/c/${encodeURIComponent(c.id)}/photo.webp?v=${c.photo}`,
    });
    td.append(img);
  }
  const saved = staff.state.contestants.some((p) => p.id === c.id);
  const file = el("input", {
    type: "file",
    accept: "image/jpeg,image/png,image/webp",
    "aria-label": `照片 Photo ${c.name || c.id}`,
    "data-photo": c.id,
  });
  file.disabled = !editable || !saved;
  if (!saved) file.title = "先保存 Save the show first";
  file.addEventListener("change", async () => {
    if (!file.files[0]) return;
    const { ok, answer } = await staff.upload(api(`/contestants/${encodeURIComponent(c.id)}/photo`), file.files[0]);
    if (ok) {
      c.photo = new URL(answer.photo, location.href).searchParams.get("v");
      staff.toast("✓ 照片已保存 photo saved");
      renderContestants();
    }
  });
  td.append(file);
  return td;
}

function renderContestants() {
  const body = byId("contestants-table").tBodies[0];
  byId("contestant-count").textContent = String(doc.contestants.length);
  body.replaceChildren(
    ...doc.contestants.map((c, i) => {
      const tr = el("tr", { "data-contestant": c.id });
      const who = c.name || c.id;
      const pair = (k, label) => {
        const td = el("td");
        td.append(input(c, k, `${label} ${who}`), input(c, `${k}_en`, `${label} (en) ${who}`));
        return td;
      };
      const number = el("td");
      number.append(input(c, "number", `编号 Number ${who}`, { optional: true }));
      number.querySelector("input").placeholder = String(i + 1).padStart(2, "0");
      const field = el("td");
      field.append(input(c, "field", `领域 Field ${who}`));
      const story = el("td");
      story.append(
        input(c, "story", `介绍 Story ${who}`, { area: true, optional: true }),
        input(c, "story_en", `介绍 Story (en) ${who}`, { area: true, optional: true }),
      );
      const video = el("td");
      video.append(input(c, "video", `视频 Video ${who}`, { optional: true, type: "url" }));
      const remove = el("button", { type: "button", class: "danger", "aria-label": `删除 Remove ${who}` }, "✕");
      remove.disabled = !editable || doc.contestants.length === 1;
      remove.addEventListener("click", () => {
        doc.contestants.splice(i, 1);
        for (const cat of doc.categories) {
          if (cat.contestants) cat.contestants = cat.contestants.filter((id) => id !== c.id);
        }
        renderContestants();
      });
      const removeCell = el("td");
      removeCell.append(remove);
      tr.append(number, pair("name", "姓名 Name"), pair("organisation", "单位 Organisation"), field,
        pair("innovation", "成果 Innovation"), story, video, photoCell(c), removeCell);
      return tr;
    }),
  );
}

function newId(prefix, taken) {
  for (let n = taken.length + 1; ; n++) {
    const id = `${prefix}${String(n).padStart(2, "0")}`;
    if (!taken.includes(id)) return id;
  }
}

byId("add-contestant").addEventListener("click", () => {
  const id = newId("c", doc.contestants.map((c) => c.id));
  doc.contestants.push({
    id, name: "", name_en: "", organisation: "", organisation_en: "", field: "craft",
    innovation: "", innovation_en: "", order: doc.contestants.length + 1,
  });
  renderContestants();
  byId("contestants-table").querySelector(`tr[data-contestant="${id}"] input[aria-label^="姓名"]`)?.focus();
});

// -- categories, with a live preview of the rules on a sample evening -------------------------

const timers = new WeakMap();

function schedulePreview(cat, table) {
  clearTimeout(timers.get(table));
  timers.set(table, setTimeout(() => preview(cat, table), 250));
}

async function preview(cat, table) {
  const { ok, answer } = await send(api("/rules-preview"), JSON.stringify({ category: cat }), "application/json");
  const body = table.tBodies[0];
  const caption = table.caption;
  if (!ok) {
    caption.textContent = `预览失败 Preview failed: ${answer.error?.message || ""}`;
    body.replaceChildren();
    return;
  }
  caption.textContent = "示例结果（虚构票数与评分） Sample result (made-up votes and marks)";
  const people = Object.fromEntries(doc.contestants.map((c, i) => [c.id, c]));
  body.replaceChildren(
    ...answer.rows.map((r) => {
      const tr = el("tr");
      const p = people[r.contestant];
      const label = p ? `${p.number || String(p.order).padStart(2, "0")} ${p.name}` : r.contestant;
      for (const v of [r.place, label, r.expert, r.audience, r.total, r.award || ""]) tr.append(el("td", {}, v));
      return tr;
    }),
  );
}

function presetOf(cat) {
  return cat.rules?.preset || presets[cat.id] || "";
}

function renderCategories() {
  const box = byId("categories");
  box.replaceChildren(
    ...doc.categories.map((cat, i) => {
      const card = el("fieldset", { class: "category-setup", "data-category": cat.id });
      card.append(el("legend", {}, `${cat.name || cat.id}`));
      const table = el("table", { class: "preview" });
      table.append(el("caption"));
      const head = el("thead");
      const hr = el("tr");
      for (const h of ["#", "选手 Contestant", "专家 Expert", "观众 Audience", "总分 Total", "奖项 Award"]) hr.append(el("th", {}, h));
      head.append(hr);
      table.append(head, el("tbody"));
      const update = () => schedulePreview(cat, table);
      const row1 = el("div", { class: "controls" });
      const label = (text, node) => {
        const l = el("label", {}, text + " ");
        l.append(node);
        return l;
      };
      row1.append(
        label("编号 Id", input(cat, "id", `奖项编号 Category id ${i + 1}`, { onChange: update })),
        label("名称 Name", input(cat, "name", `奖项名称 Category name ${i + 1}`, { onChange: update })),
        label("英文 Name (en)", input(cat, "name_en", `英文名称 Category name (en) ${i + 1}`, { onChange: update })),
      );
      const row2 = el("div", { class: "controls" });
      const hide = el("input", { type: "checkbox", "aria-label": `揭晓前隐藏 Hide until revealed ${cat.id}` });
      hide.checked = Boolean(cat.hide_tallies);
      hide.disabled = !editable;
      hide.addEventListener("change", () => { cat.hide_tallies = hide.checked; });
      const cap = input(cat, "votes_per_device", `每机票数 Votes per device ${cat.id}`, { type: "number", optional: true });
      cap.placeholder = "1"; // the show file's defaults
      const per = input(cat, "per_contestant", `每人上限 Per contestant ${cat.id}`, { type: "number", optional: true });
      per.placeholder = "0 = 不限 no limit";
      const field = el("input", { "aria-label": `参赛选手 Contestants of ${cat.id} (ids; empty: all)`, placeholder: "全部 all" });
      field.value = (cat.contestants || []).join(", ");
      field.disabled = !editable;
      field.addEventListener("input", () => {
        const ids = field.value.split(/[\s,，]+/).filter(Boolean);
        if (ids.length) cat.contestants = ids;
        else delete cat.contestants;
        update();
      });
      // Who a vote counts for: the device, or a verified person (caps then hold across their
      // devices). Fixed once voting opens, like every setting here.
      const identity = el("select", { "aria-label": `投票身份 Voter identity ${cat.id}` });
      for (const [value, text] of [
        ["device", "设备 Device (cookie)"],
        ["phone", "手机号 Phone (SMS code)"],
        ["wechat", "微信 WeChat"],
        ["oidc", "单位账号 Organisation sign-in (OIDC)"],
      ]) identity.append(el("option", { value }, text));
      identity.value = cat.identity || "device";
      identity.disabled = !editable;
      identity.addEventListener("change", () => {
        if (identity.value === "device") delete cat.identity;
        else cat.identity = identity.value;
      });
      row2.append(
        label("每机票数 Votes per device", cap),
        label("每人上限 Per contestant", per),
        label("参赛选手 Contestants", field),
        label("揭晓前隐藏 Hide until revealed", hide),
        label("投票身份 Voter identity", identity),
      );
      const row3 = el("div", { class: "controls" });
      const preset = el("select", { "aria-label": `规则预设 Rules preset ${cat.id}` });
      preset.append(el("option", { value: "" }, "（当前规则 current rules）"));
      for (const p of presetNames) preset.append(el("option", { value: p }, p));
      preset.value = presetOf(cat);
      preset.disabled = !editable;
      cat.rules = cat.rules || {};
      const weights = {};
      for (const side of ["expert_weight", "audience_weight"]) {
        const w = el("input", { type: "number", min: "0", max: "1000", "aria-label": `${side} ${cat.id}` });
        w.value = cat.rules.combine?.[side] ?? "";
        w.placeholder = side === "expert_weight" ? "60" : "40";
        w.disabled = !editable;
        w.addEventListener("input", () => {
          cat.rules.combine = { ...(cat.rules.combine || {}) };
          if (w.value === "") delete cat.rules.combine[side];
          else cat.rules.combine[side] = Number(w.value);
          update();
        });
        weights[side] = w;
      }
      preset.addEventListener("change", async () => {
        // The preset resolved by the server: its stages and awards become adjustable here.
        const picked = preset.value ? { ...cat, rules: { preset: preset.value } } : { ...cat, rules: {} };
        const { ok, answer } = await send(api("/rules-preview"), JSON.stringify({ category: picked }), "application/json");
        if (!ok) return staff.toast(answer.error?.message || "preview failed");
        cat.rules = answer.rules;
        presets[cat.id] = preset.value;
        renderCategories();
      });
      const row4 = el("div", { class: "controls" });
      (cat.rules.stages || []).forEach((stage, k) => {
        if (stage.kind === "top") {
          const n = input(stage, "n", `第${k + 1}轮 前N名 Stage ${k + 1}: top N by ${stage.by} · ${cat.id}`, { type: "number", onChange: update });
          n.min = "1";
          row4.append(label(`第${k + 1}轮 Stage ${k + 1}: 前 top (${stage.by})`, n));
        } else {
          const f = input(stage, "fraction", `第${k + 1}轮 通过比例 Stage ${k + 1}: approval fraction · ${cat.id}`, { onChange: update });
          f.size = 5;
          row4.append(label(`第${k + 1}轮 Stage ${k + 1}: 评委通过 approved by ≥`, f));
        }
      });
      (cat.rules.awards || []).forEach((award) => {
        const n = input(award, "count", `${award.name} 名额 count · ${cat.id}`, { type: "number", onChange: update });
        n.min = "1";
        row4.append(label(`${award.name} ${award.name_en} 名额 count`, n));
      });
      const remove = el("button", { type: "button", class: "danger" }, "删除奖项 Remove category");
      remove.disabled = !editable || doc.categories.length === 1;
      remove.addEventListener("click", () => {
        doc.categories.splice(i, 1);
        renderCategories();
      });
      row3.append(
        label("规则 Rules", preset),
        label("专家权重 Expert weight", weights.expert_weight),
        label("观众权重 Audience weight", weights.audience_weight),
        remove,
      );
      card.append(row1, row2, row3, ...(row4.childElementCount ? [row4] : []), table);
      update();
      return card;
    }),
  );
}

byId("add-category").addEventListener("click", () => {
  const id = newId("award", doc.categories.map((c) => c.id));
  doc.categories.push({ id, name: "新奖项", name_en: "New award", rules: { preset: "weighted" } });
  renderCategories();
});

// -- the show, loaded and saved whole -------------------------------------------------------------

function renderStatus(answer) {
  byId("source").textContent = answer.source === "file" ? "节目文件 show file" : "浏览器创建 set up here";
  byId("setup-phase").textContent = answer.phase;
  byId("editable-note").textContent = editable
    ? "开始前可修改全部内容。Everything can change until the show starts."
    : answer.source === "file"
      ? "此节目由服务器上的节目文件定义（live show import）。This show is defined by a file on the server (live show import)."
      : "节目已开始，设置已固定。The show has started: its setup is fixed.";
  for (const id of ["save-show", "import-sheet", "import-toml", "sheet-file", "toml-file", "add-contestant", "add-category", "show-title", "show-title-en"]) {
    byId(id).disabled = !editable;
  }
}

async function load() {
  const { ok, answer } = await staff.command(api("/definition"), undefined, "GET");
  if (!ok) return;
  doc = answer.show;
  rev = answer.rev;
  editable = answer.editable;
  presets = answer.presets || {};
  presetNames = answer.preset_names || [];
  renderStatus(answer);
  const title = byId("show-title");
  const titleEn = byId("show-title-en");
  title.value = doc.title;
  titleEn.value = doc.title_en;
  const retention = byId("show-retention");
  retention.value = doc.retention || 30;
  retention.oninput = () => { doc.retention = Number(retention.value); };
  // Comments: the moderation mode, the length, the per-device and per-address rates (defaults when unset).
  const comments = () => (doc.comments = doc.comments || {});
  const moderation = byId("show-comments-moderation");
  const maxLength = byId("show-comments-max");
  const rate = byId("show-comments-rate");
  moderation.value = (doc.comments || {}).moderation || "pre";
  maxLength.value = (doc.comments || {}).max_length || 60;
  rate.value = (doc.comments || {}).per_minute || 6;
  moderation.onchange = () => { comments().moderation = moderation.value; };
  maxLength.oninput = () => { comments().max_length = Number(maxLength.value); };
  rate.oninput = () => { comments().per_minute = Number(rate.value); };
  // A venue's Wi-Fi puts many phones behind one address: the organiser sets it to the crowd.
  const perAddress = byId("show-comments-address");
  perAddress.value = (doc.comments || {}).per_address_minute || 60;
  perAddress.oninput = () => { comments().per_address_minute = Number(perAddress.value); };
  title.oninput = () => { doc.title = title.value; };
  titleEn.oninput = () => { doc.title_en = titleEn.value; };
  renderContestants();
  renderCategories();
}

async function refreshState() {
  const { ok, answer } = await staff.command(api("/staff-state"), undefined, "GET");
  if (ok) staff.state.contestants = answer.contestants;
}

byId("save-show").addEventListener("click", async () => {
  doc.contestants.forEach((c, i) => { c.order = i + 1; });
  const { ok, answer } = await send(api("/definition"), JSON.stringify({ rev, show: doc }), "application/json");
  if (!ok) return failed("保存失败 Not saved", answer);
  showProblems("", null);
  byId("save-state").textContent = `✓ 已保存 saved (${answer.rev})`;
  staff.toast("✓ 已保存 saved");
  await refreshState();
  await load();
});

byId("import-sheet").addEventListener("click", async () => {
  const file = byId("sheet-file").files[0];
  if (!file) return staff.toast("先选择文件 pick a file first");
  const query = new URLSearchParams({ name: file.name, rev });
  const { ok, answer } = await send(api(`/roster?${query}`), file, "application/octet-stream");
  if (!ok) return failed("未导入，请修正后重试 Nothing imported; fix these rows and try again", answer);
  showProblems("", null);
  staff.toast(`✓ 已导入 ${answer.contestants} 位选手 imported ${answer.contestants} contestants`);
  byId("save-state").textContent = `✓ ${answer.contestants} 位选手已导入 contestants imported`;
  await refreshState();
  await load();
});

byId("import-toml").addEventListener("click", async () => {
  const file = byId("toml-file").files[0];
  if (!file) return staff.toast("先选择文件 pick a file first");
  const { ok, answer } = await send(api(`/definition?${new URLSearchParams({ rev })}`), file, "application/toml");
  if (!ok) return failed("未导入 Not imported", answer);
  showProblems("", null);
  staff.toast("✓ 节目文件已导入 show file imported");
  await refreshState();
  await load();
});

byId("new-show-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = { id: byId("new-id").value.trim(), title: byId("new-title").value.trim(), title_en: byId("new-title-en").value.trim(), partitions: Number(byId("new-partitions").value || 1) };
  const { ok, answer } = await send("/api/shows", JSON.stringify(body), "application/json");
  if (!ok) return failed("未创建 Not created", answer);
  location.assign(answer.login); // the one-time link making you the new show's admin
});

// -- staff ---------------------------------------------------------------------------------------

async function loadStaff() {
  const { ok, answer } = await staff.command(api("/staff"), undefined, "GET");
  if (!ok) return;
  const body = byId("staff-table").tBodies[0];
  body.replaceChildren(
    ...answer.staff.map((m) => {
      const tr = el("tr");
      const role = el("select", { "aria-label": `角色 Role of ${m.name}` });
      for (const r of ["admin", "judge", "moderator", "streamer"]) role.append(el("option", { value: r }, r));
      role.value = m.role;
      role.disabled = !m.active;
      role.addEventListener("change", async () => {
        const { ok } = await staff.command(api("/staff"), { op: "role", staff: m.id, role: role.value });
        if (ok) staff.toast(`✓ ${m.name}: ${role.value}`);
        loadStaff();
      });
      const revoke = el("button", { type: "button", class: "danger", "aria-label": `撤销 Revoke ${m.name}` }, "撤销 Revoke");
      const me = m.id === byId("staff-panel").dataset.me; // you cannot revoke yourself
      revoke.disabled = !m.active || me;
      role.disabled = role.disabled || me;
      revoke.addEventListener("click", async () => {
        const { ok } = await staff.command(api("/staff"), { op: "revoke", staff: m.id });
        if (ok) staff.toast(`✓ ${m.name} revoked`);
        loadStaff();
      });
      const cell = el("td");
      cell.append(role);
      const actions = el("td");
      actions.append(revoke);
      tr.append(el("td", {}, m.name), cell, el("td", {}, m.active ? "有效 active" : "已撤销 revoked"), actions);
      return tr;
    }),
  );
}

byId("invite-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = { op: "invite", name: byId("invite-name").value.trim(), role: byId("invite-role").value };
  const { ok, answer } = await staff.command(api("/staff"), body);
  if (!ok) return;
  byId("invite-link").value = answer.login;
  byId("invite-result").hidden = false;
  byId("invite-name").value = "";
  loadStaff();
});

byId("copy-invite").addEventListener("click", async () => {
  await navigator.clipboard?.writeText(byId("invite-link").value).catch(() => {});
  byId("invite-link").select();
  staff.toast("✓ 已复制 copied");
});

load();
loadStaff();

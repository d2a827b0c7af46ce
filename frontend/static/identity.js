// Verifying who votes, where an award needs more than the device: the phone code dialog, and
// the WeChat / OIDC sign-in links. What is kept is stated before the number is asked for.

const post = async (path, body) => {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  let data = {};
  try {
    data = await res.json();
  } catch (err) {
    data = {};
  }
  return { status: res.status, data, retry: Number(res.headers.get("Retry-After")) || 0 };
};

const el = (tag, attrs = {}, text) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = String(text);
  return node;
};

function errorText(t, answer) {
  const err = (answer.data && answer.data.error) || {};
  switch (err.code) {
    case "bad_request":
      return t.id_bad_phone;
    case "code_invalid":
      return err.attempts_left > 0 ? t.id_wrong_code.replace("{n}", err.attempts_left) : t.id_code_expired;
    case "code_expired":
      return t.id_code_expired;
    case "send_limited":
      return t.id_send_limited.replace("{n}", answer.retry || 60);
    case "captcha_required":
      return t.id_captcha;
    case "provider_failed":
      return t.id_provider;
    case "identity_disabled":
      return t.id_unavailable;
    default:
      return err.message || t.error;
  }
}

// Open the dialog for `kind` (phone, wechat, oidc). Resolves true once this device holds the
// identity (phone), false when cancelled; WeChat and OIDC leave the page for the provider and
// come back to `next`.
export function verifyIdentity(kind, t, { retentionDays, next, onLeave }) {
  return new Promise((resolve) => {
    const dialog = el("dialog", { id: "verify", class: "verify", "aria-labelledby": "verify-title" });
    const form = el("form", { method: "dialog", novalidate: "" });
    form.append(el("h2", { id: "verify-title" }, t["id_title_" + kind]));
    form.append(el("p", { class: "why" }, t["id_why_" + kind]));
    const stored = kind === "phone" ? t.id_stored_phone : t.id_stored_other;
    form.append(el("p", { class: "muted small", id: "verify-stored" }, stored.replace("{days}", retentionDays)));
    const status = el("p", { class: "verify-status", role: "status", "aria-live": "polite" });
    const done = (ok) => {
      dialog.close();
      dialog.remove();
      resolve(ok);
    };
    const cancel = el("button", { type: "button", class: "secondary", id: "verify-cancel" }, t.id_cancel);
    cancel.addEventListener("click", () => done(false));
    dialog.addEventListener("cancel", () => done(false));

    if (kind !== "phone") {
      const go = el("a", { class: "button primary", id: "verify-go", href: `/api/identity/${kind}/start?next=${encodeURIComponent(next)}` }, t["id_sign_in_" + kind]);
      go.addEventListener("click", () => {
        if (onLeave) onLeave(); // the page is left for the provider: remember what to do after
      });
      form.append(go, status, el("div", { class: "actions" }));
      form.lastChild.append(cancel);
    } else {
      const phoneLabel = el("label", { for: "verify-phone" }, t.id_phone);
      const phone = el("input", { id: "verify-phone", type: "tel", inputmode: "tel", autocomplete: "tel", maxlength: "20", placeholder: "138 0000 0000" });
      const send = el("button", { type: "button", id: "verify-send" }, t.id_send);
      const codeLabel = el("label", { for: "verify-code" }, t.id_code);
      const code = el("input", { id: "verify-code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6", pattern: "[0-9]{6}" });
      const verify = el("button", { type: "submit", class: "primary", id: "verify-submit", disabled: "" }, t.id_verify);
      const row = el("div", { class: "verify-row" });
      row.append(phone, send);
      form.append(phoneLabel, row, codeLabel, code, status);
      const actions = el("div", { class: "actions" });
      actions.append(cancel, verify);
      form.append(actions);

      let timer = null;
      const countdown = (seconds) => {
        clearInterval(timer);
        let left = seconds;
        send.disabled = true;
        send.textContent = t.id_resend.replace("{n}", left);
        timer = setInterval(() => {
          left -= 1;
          if (left <= 0) {
            clearInterval(timer);
            send.disabled = false;
            send.textContent = t.id_send;
          } else {
            send.textContent = t.id_resend.replace("{n}", left);
          }
        }, 1000);
      };
      send.addEventListener("click", async () => {
        send.disabled = true;
        const answer = await post("/api/identity/phone/start", { phone: phone.value });
        if (answer.status === 200) {
          status.textContent = t.id_sent.replace("{phone}", answer.data.phone);
          verify.disabled = false;
          countdown(answer.data.resend_in || 60);
          code.focus();
        } else {
          status.textContent = errorText(t, answer);
          if (answer.status === 429) countdown(answer.retry || 60);
          else send.disabled = false;
        }
      });
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        verify.disabled = true;
        const answer = await post("/api/identity/phone/verify", { phone: phone.value, code: code.value });
        if (answer.status === 200) {
          clearInterval(timer);
          status.textContent = t.id_verified.replace("{label}", answer.data.label);
          done(true);
        } else {
          status.textContent = errorText(t, answer);
          verify.disabled = false;
        }
      });
    }
    dialog.append(form);
    document.body.append(dialog);
    dialog.showModal();
  });
}

// The static part of a show (its `show` message: title, contestants, category names) merged
// into a pushed snapshot, which leaves it out: renderers see the whole state, as before.
function withShow(show, snap) {
  if (!show || snap.contestants) return snap;
  const byId = new Map(show.categories.map((c) => [c.id, c]));
  return {
    ...snap,
    show: show.show,
    contestants: show.contestants,
    categories: snap.categories.map((c) => ({ ...byId.get(c.id), ...c })),
  };
}

// A websocket that keeps itself connected: capped exponential backoff with full jitter, so a
// server restart does not bring every phone back in the same instant. Snapshots carry the whole
// state that changes, so after a reconnect the first message heals whatever was missed; the
// `show` message comes first on every connection and again whenever an admin edits the show.
export function keepConnected(path, { onSnapshot, onStatus, onMessage } = {}) {
  let attempt = 0;
  let socket = null;
  let lastVersion = -1;
  let show = null;
  let comments = null; // the last `comments` message: the snapshot's `comments_rev` names it
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const open = () => {
    socket = new WebSocket(`${scheme}://${location.host}${path}`);
    onStatus?.(attempt ? "offline" : "connecting");
    socket.addEventListener("open", () => {
      attempt = 0;
      onStatus?.("open");
    });
    socket.addEventListener("message", (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "show") {
        show = msg;
      } else if (msg.type === "comments") {
        comments = msg;
      } else if (msg.type === "snapshot") {
        if (msg.version < lastVersion) return; // never go back in time
        lastVersion = msg.version;
        const full = withShow(show, msg);
        if ("comments_rev" in msg) {
          full.comments = msg.comments_rev && comments ? comments.comments : [];
        }
        full.clock_offset = msg.server_time - Date.now();
        onSnapshot?.(full);
      } else {
        onMessage?.(msg);
      }
    });
    socket.addEventListener("close", (event) => {
      onStatus?.(event.code === 4401 || event.code === 4003 ? "denied" : "offline");
      if (event.code === 4401 || event.code === 4003 || event.code === 4403) return;
      const cap = Math.min(30000, 500 * 2 ** attempt);
      attempt += 1;
      setTimeout(open, Math.random() * cap);
    });
  };
  open();
  return { send: (obj) => socket?.readyState === WebSocket.OPEN && (socket.send(JSON.stringify(obj)), true) };
}

export function remainingSeconds(snapshot) {
  const deadline = snapshot.stage.deadline;
  if (!deadline) return null;
  const now = Date.now() + (snapshot.clock_offset || 0);
  return Math.max(0, Math.ceil((deadline - now) / 1000));
}

export function formatClock(seconds) {
  if (seconds === null) return "";
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return `${m}:${String(s).padStart(2, "0")}`;
}

// A websocket that keeps itself connected: capped exponential backoff with full jitter, so a
// server restart does not bring every phone back in the same instant. Snapshots carry the whole
// state, so after a reconnect the first message heals whatever was missed.
export function keepConnected(path, { onSnapshot, onStatus, onMessage } = {}) {
  let attempt = 0;
  let socket = null;
  let lastVersion = -1;
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
      if (msg.type === "snapshot") {
        if (msg.version < lastVersion) return; // never go back in time
        lastVersion = msg.version;
        msg.clock_offset = msg.server_time - Date.now();
        onSnapshot?.(msg);
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

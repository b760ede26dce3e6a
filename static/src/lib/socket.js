// A page's live socket on this host: JSON events to `onEvent`, `state.live` true while open,
// reconnecting with a doubling delay (1 s to 30 s) until the server closes it with one of the
// `finalCodes` (no credentials, no access), which a retry would only repeat.
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;

export function liveSocket({ path, onEvent, state, finalCodes, label }, delay = RETRY_MIN_MS) {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${window.location.host}${path}`);
  let opened = false;
  socket.addEventListener("open", () => {
    opened = true;
    state.live = true;
  });
  socket.addEventListener("message", (message) => {
    try {
      onEvent(JSON.parse(message.data));
    } catch (error) {
      console.error(`${label} event not applied`, error);
    }
  });
  socket.addEventListener("close", (closed) => {
    state.live = false;
    if (finalCodes.includes(closed.code)) return;
    const next = opened ? RETRY_MIN_MS : Math.min(delay * 2, RETRY_MAX_MS);
    const options = { path, onEvent, state, finalCodes, label };
    window.setTimeout(() => liveSocket(options, next), opened ? RETRY_MIN_MS : delay);
  });
}

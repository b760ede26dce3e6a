// The header bell of every signed-in page (templates/base.html): keeps the unread count live
// and shows a toast per new notification, over /ws/notifications/ (API.md "Notifications").
// The same socket carries the account's own watch progress: a `progress` event marks the
// lecture done in an open course outline (templates/web/_outline.html) and, on the lecture's
// own page, tells the player its new resume position (`lectern:resume`, static/src/player.js).
// Titles and bodies are shown with textContent only (never as HTML).
import { liveSocket } from "./lib/socket.js";

const TOAST_MS = 8000;

const bell = document.getElementById("notif-bell");
const count = document.getElementById("notif-count");
const state = { unread: count ? Number(count.textContent) || 0 : 0, live: false, received: [] };
window.lecternNotifications = state;

function showCount() {
  if (!count) return;
  count.textContent = String(state.unread);
  count.hidden = state.unread === 0;
  if (bell) bell.setAttribute("aria-label", `Notifications: ${state.unread} unread`);
}

function toasts() {
  let box = document.getElementById("notif-toasts");
  if (!box) {
    box = document.createElement("div");
    box.id = "notif-toasts";
    box.className = "toasts";
    box.setAttribute("aria-live", "polite");
    document.body.appendChild(box);
  }
  return box;
}

function toast(notification) {
  const item = document.createElement("a");
  item.className = "toast";
  item.href = notification.url || "/notifications/";
  const title = document.createElement("strong");
  title.textContent = notification.title;
  item.appendChild(title);
  if (notification.body) {
    const body = document.createElement("span");
    body.textContent = notification.body;
    item.appendChild(body);
  }
  toasts().appendChild(item);
  window.setTimeout(() => item.remove(), TOAST_MS);
}

function progress(event) {
  if (!event.completed) return;
  document.querySelectorAll(`[data-lecture="${CSS.escape(event.lecture_id)}"] .outline__mark`).forEach((mark) => {
    mark.classList.add("outline__mark--done");
    mark.title = "Completed";
    mark.textContent = "\u2713";
  });
}

function apply(event) {
  if (event.type === "notification") {
    state.received.push(event);
    if (!event.read) state.unread += 1;
    showCount();
    toast(event);
  } else if (event.type === "unread") {
    state.unread = event.unread_count;
    showCount();
  } else if (event.type === "progress") {
    progress(event);
    document.dispatchEvent(new CustomEvent("lectern:resume", { detail: event }));
  }
}

function connect() {
  liveSocket({ path: "/ws/notifications/", onEvent: apply, state, finalCodes: [4401, 4403], label: "Notification" });
}

if (bell) {
  showCount();
  connect();
}

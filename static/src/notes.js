// The "Notes" and "Like and save" panels beside a lecture (engagement/web/panels.py).
//
// Notes: the form posts to /api/v1/notes ({lecture_id, body, timestamp}); "at current time"
// follows the player's `lectern:time` events; a note's time dispatches `lectern:seek`
// (static/src/player.js plays from there); edit (PATCH) and delete (DELETE) per note. The
// list is redrawn from GET /api/v1/notes?lecture=<id> after each change; note bodies arrive as
// the server's sanitised `body_html`. Like: POST/DELETE /api/v1/lectures/<id>/like. Save:
// POST /api/v1/lists/<id>/items {lecture_id}.
import { api } from "./lib/api.js";

function label(seconds) {
  const whole = Math.floor(seconds);
  return `${String(Math.floor(whole / 60)).padStart(2, "0")}:${String(whole % 60).padStart(2, "0")}`;
}

function notesPanel() {
  const configNode = document.getElementById("notes-config");
  if (!configNode) return;
  const config = JSON.parse(configNode.textContent);
  const form = document.getElementById("note-form");
  const body = document.getElementById("note-body");
  const atTime = document.getElementById("note-at-time");
  const timeLabel = document.getElementById("note-time");
  const status = document.getElementById("note-status");
  const list = document.getElementById("note-list");
  let current = 0;

  document.addEventListener("lectern:time", (event) => {
    const seconds = Number(event.detail && event.detail.seconds);
    if (!Number.isFinite(seconds)) return;
    current = seconds;
    if (timeLabel) timeLabel.textContent = label(seconds);
  });

  function render(notes) {
    list.replaceChildren();
    for (const note of notes) {
      const item = document.createElement("li");
      item.className = "note";
      item.dataset.noteId = note.id;
      if (note.timestamp !== null) {
        const time = document.createElement("button");
        time.type = "button";
        time.className = "note__time link-button";
        time.dataset.seek = String(note.timestamp);
        time.title = `Play from ${note.timestamp_label}`;
        time.textContent = note.timestamp_label;
        item.append(time);
      }
      const text = document.createElement("div");
      text.className = "markdown note__body";
      text.innerHTML = note.body_html; // sanitised by the server (tenants.markdown)
      const actions = document.createElement("div");
      actions.className = "note__actions";
      for (const [attr, name] of [["edit", "Edit"], ["delete", "Delete"]]) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "link-button small";
        button.setAttribute(`data-${attr}`, "");
        button.textContent = name;
        actions.append(button, " ");
      }
      item.append(text, actions);
      item._note = note;
      list.append(item);
    }
  }

  async function reload() {
    const data = await api("GET", `${config.notes_api}?lecture=${config.lecture_id}&limit=100`);
    render(data.results);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const payload = { lecture_id: config.lecture_id, body: body.value };
    if (atTime && atTime.checked) payload.timestamp = Math.floor(current * 10) / 10;
    try {
      await api("POST", config.notes_api, payload, config.csrf_token);
      body.value = "";
      status.textContent = "Saved.";
      await reload();
    } catch (error) {
      status.textContent = error.message;
    }
  });

  list.addEventListener("click", async (event) => {
    const target = event.target.closest("button");
    if (!target) return;
    const item = target.closest("[data-note-id]");
    const url = `${config.notes_api}/${item.dataset.noteId}`;
    try {
      if (target.dataset.seek !== undefined) {
        const seconds = Number(target.dataset.seek);
        document.dispatchEvent(new CustomEvent("lectern:seek", { detail: { seconds } }));
      } else if (target.hasAttribute("data-delete")) {
        if (!window.confirm("Delete this note?")) return;
        await api("DELETE", url, undefined, config.csrf_token);
        await reload();
      } else if (target.hasAttribute("data-edit")) {
        const note = item._note || (await api("GET", url));
        const text = window.prompt("Edit the note", note.body);
        if (text === null) return;
        await api("PATCH", url, { body: text }, config.csrf_token);
        await reload();
      }
    } catch (error) {
      status.textContent = error.message;
    }
  });
}

function keepPanel() {
  const panel = document.getElementById("keep-panel");
  if (!panel) return;
  const lecture = panel.dataset.lectureId;
  const like = document.getElementById("like-button");
  const status = document.getElementById("save-status");
  like.addEventListener("click", async () => {
    const liked = like.getAttribute("aria-pressed") === "true";
    try {
      const data = await api(liked ? "DELETE" : "POST", `/api/v1/lectures/${lecture}/like`);
      like.setAttribute("aria-pressed", data.liked ? "true" : "false");
      like.textContent = data.liked ? "\u2665 Liked" : "\u2661 Like";
    } catch (error) {
      status.textContent = error.message;
    }
  });
  document.getElementById("save-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const select = document.getElementById("save-list");
    const option = select.selectedOptions[0];
    if (!option) return;
    const name = option.dataset.name;
    try {
      await api("POST", `/api/v1/lists/${option.value}/items`, { lecture_id: lecture });
      status.textContent = `Saved to ${name}.`;
      option.dataset.saved = "true";
      option.textContent = `${name} (saved)`; // as the server draws a list holding it
    } catch (error) {
      status.textContent = error.message;
    }
  });
}

notesPanel();
keepPanel();

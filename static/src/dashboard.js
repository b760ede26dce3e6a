// Course page of the instructor dashboard (templates/dashboard/course_edit.html), bundled by
// esbuild into static/build/dashboard.js and dashboard.css (Uppy's styles) with `make assets`.
//
// The page renders <script id="dashboard-config">: upload_endpoint (tus, /api/v1/uploads/),
// upload_retry_delays_ms (settings.UPLOAD_RETRY_DELAYS_MS), lecture_api (/api/v1/lectures/),
// reorder_url, csrf_token and lectures (id -> the API's instructor lecture object, with
// preview_url once a version is ready).
//
// - Uploads: one Uppy widget per lecture (drag and drop, progress, pause / resume) sending the
//   file over tus with Upload-Metadata lecture_id and filename (API.md: Uploads) and the
//   session's CSRF header; a dropped connection is retried after each of
//   upload_retry_delays_ms, then Uppy offers Retry; while the browser is offline the upload waits (the lecture says so) and
//   continues by itself once it is back online.
// - Processing: the lectures' status and progress follow the `video.processing` events of the
//   WebSocket /ws/dashboard/ (API.md: Realtime), reconnecting after a drop (at once when the
//   browser comes back online); at `ready` the lecture object is fetched again for its signed
//   preview_url and a preview player appears. Events sent while the socket is down are lost, so
//   the page catches up from the lecture API: when the socket opens, when an upload completes,
//   and every POLL_MS while the socket is down and a lecture is queued or processing.
// - Reordering: SortableJS drag and drop by the ⠿ handle. Sections reorder within the course
//   and lectures within a section (a POST of the new order to reorder_url); a lecture dropped
//   into another section is moved there with PATCH lecture_api<id> {section_id, order}
//   (API.md: Courses). The ↑ ↓ buttons stay plain forms for the keyboard and without script.
//   While a save is under way, dragging waits; when the server refuses, the page reloads to
//   show the stored order.
import Sortable from "sortablejs";
import Uppy from "@uppy/core";
import Dashboard from "@uppy/dashboard";
import Tus from "@uppy/tus";
import "@uppy/core/css/style.min.css";
import "@uppy/dashboard/css/style.min.css";

// Delays (ms) of tus-js-client's retries after a failed request (then the upload errors out
// and Uppy offers "Retry") when the page's config gives none: the settings' default.
const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10000, 20000];
// WebSocket reconnection back-off (ms): doubled after each failure up to the maximum.
const WS_RETRY_MIN_MS = 1000;
const WS_RETRY_MAX_MS = 30000;
// While the socket is down, unfinished lectures are read from the API this often.
const POLL_MS = 5000;
// Upload chunk size: 8 MiB PATCH requests, so a dropped connection loses little.
const CHUNK_SIZE = 8 * 1024 * 1024;

// Shown on a lecture while its upload waits for the network. Uppy's own "No Internet
// connection" notice is removed as soon as it appears (@uppy/core 6 calls info() with a
// duration of 0, which hides it at once), so the dashboard says it itself.
const OFFLINE_MESSAGE = "Connection lost. The upload continues when you are back online.";

const STATUS_LABELS = {
  awaiting_media: "Awaiting media",
  uploading: "Uploading",
  queued: "Queued",
  processing: "Processing",
  ready: "Ready",
  failed: "Failed",
};

const config = JSON.parse(document.getElementById("dashboard-config").textContent);

function lectureItem(lectureId) {
  return document.querySelector(`li.lecture[data-lecture-id="${lectureId}"]`);
}

function showStatus(lectureId, status, progress, error) {
  const item = lectureItem(lectureId);
  if (!item) return;
  const percent = Math.max(0, Math.min(100, Number(progress) || 0));
  item.dataset.status = status;
  item.querySelector('[data-role="status-text"]').textContent = STATUS_LABELS[status] || status;
  const shown = status === "processing" || status === "ready" || status === "uploading";
  item.querySelector('[data-role="percent"]').textContent = shown ? `${Math.round(percent)}%` : "";
  item.querySelector('[data-role="bar"]').style.width = `${percent}%`;
  item.querySelector('[data-role="error"]').textContent = error || "";
}

function showPages(item, documentState) {
  // A presentation's preview: its first page images (signed URLs from the lecture object).
  const box = item.querySelector('[data-role="preview"]');
  box.replaceChildren();
  for (const url of documentState.page_image_urls.slice(0, 6)) {
    const image = document.createElement("img");
    image.src = url;
    image.alt = "";
    image.className = "page-thumb";
    box.append(image);
  }
}

function showPreview(lectureId, lecture) {
  const item = lectureItem(lectureId);
  if (item && lecture && lecture.document && lecture.document.page_image_urls.length) {
    showPages(item, lecture.document);
    return;
  }
  if (!item || !lecture || !lecture.preview_url) return;
  const box = item.querySelector('[data-role="preview"]');
  box.replaceChildren();
  const video = document.createElement("video");
  video.controls = true;
  video.preload = "metadata";
  video.muted = true;
  video.playsInline = true;
  if (lecture.thumbnail_url) video.poster = lecture.thumbnail_url;
  video.src = lecture.preview_url;
  video.setAttribute("aria-label", "Preview");
  box.append(video);
}

async function refreshLecture(lectureId) {
  const response = await fetch(`${config.lecture_api}${lectureId}`, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) return null;
  const lecture = await response.json();
  showStatus(lectureId, lecture.status, lecture.progress, lecture.error);
  if (lecture.status === "ready") showPreview(lectureId, lecture);
  return lecture;
}

function mountUploader(element) {
  const lectureId = element.dataset.lectureId;
  // Presentations take a PDF or slides (the server checks the bytes, not the name).
  const isDocument = element.dataset.kind === "presentation";
  const uppy = new Uppy({
    id: `lecture-${lectureId}`,
    autoProceed: true,
    restrictions: {
      maxNumberOfFiles: 1,
      allowedFileTypes: isDocument
        ? [".pdf", ".pptx", ".odp", ".ppt"]
        : ["video/*", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"],
    },
    meta: { lecture_id: lectureId },
  });
  uppy.use(Dashboard, {
    inline: true,
    target: element,
    height: 260,
    proudlyDisplayPoweredByUppy: false,
    showProgressDetails: true,
    hidePauseResumeButton: false,
    note: isDocument
      ? "One PDF or presentation (PPTX, ODP, PPT)."
      : "One video file (MP4, MOV, WebM, MKV); up to 5 GiB.",
  });
  uppy.use(Tus, {
    endpoint: config.upload_endpoint,
    retryDelays: config.upload_retry_delays_ms || RETRY_DELAYS_MS,
    chunkSize: CHUNK_SIZE,
    removeFingerprintOnSuccess: true,
    headers: { "X-CSRFToken": config.csrf_token },
    allowedMetaFields: ["lecture_id", "filename", "filetype"],
  });
  uppy.on("file-added", (file) => {
    uppy.setFileMeta(file.id, {
      lecture_id: lectureId,
      filename: file.name,
      filetype: file.type || "application/octet-stream",
    });
    showStatus(lectureId, "uploading", 0, "");
  });
  uppy.on("upload-progress", (file, progress) => {
    if (progress.bytesTotal) {
      const percent = (100 * progress.bytesUploaded) / progress.bytesTotal;
      showStatus(lectureId, "uploading", percent, navigator.onLine ? "" : OFFLINE_MESSAGE);
    }
  });
  // Offline, tus-js-client's retries wait for the browser's "online" event (@uppy/tus), then
  // continue from the server's offset without a click.
  const errorLine = () => lectureItem(lectureId)?.querySelector('[data-role="error"]');
  uppy.on("is-offline", () => {
    const uploading = uppy
      .getFiles()
      .some((file) => file.progress.uploadStarted && !file.progress.uploadComplete && !file.error);
    if (uploading && errorLine()) errorLine().textContent = OFFLINE_MESSAGE;
  });
  uppy.on("back-online", () => {
    if (errorLine()?.textContent === OFFLINE_MESSAGE) errorLine().textContent = "";
  });
  uppy.on("upload-success", () => {
    const item = lectureItem(lectureId);
    if (item && item.dataset.status === "uploading") showStatus(lectureId, "queued", 0, "");
    // The worker may have started (or finished) before this page heard of the upload's end.
    refreshLecture(lectureId);
  });
  uppy.on("upload-error", (file, error) => {
    // The lecture itself is unchanged on the server; Uppy's "Retry" resumes the upload.
    // Uppy's and tus-js-client's messages may end with a full stop of their own.
    const item = lectureItem(lectureId);
    if (item) {
      const reason = String(error.message).replace(/[.\s]+$/, "");
      item.querySelector('[data-role="error"]').textContent =
        `Upload interrupted: ${reason}. Press Retry to resume.`;
    }
  });
}

function unfinishedLectures() {
  return [...document.querySelectorAll("li.lecture")].filter(
    (item) => item.dataset.status === "queued" || item.dataset.status === "processing",
  );
}

function catchUp() {
  for (const item of unfinishedLectures()) refreshLecture(item.dataset.lectureId);
}

let socket = null;
let reconnectTimer = null;

function connectSocket(delay = WS_RETRY_MIN_MS) {
  window.clearTimeout(reconnectTimer);
  reconnectTimer = null;
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const current = new WebSocket(`${scheme}://${window.location.host}/ws/dashboard/`);
  socket = current;
  let opened = false;
  current.addEventListener("open", () => {
    opened = true;
    document.body.dataset.socket = "open";
    catchUp();
  });
  current.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type !== "video.processing" && message.type !== "document.processing") return;
    showStatus(message.lecture_id, message.status, message.progress, message.error);
    if (message.status === "ready") refreshLecture(message.lecture_id);
  });
  current.addEventListener("close", () => {
    if (socket !== current) return; // replaced by a newer connection
    document.body.dataset.socket = "closed";
    const next = opened ? WS_RETRY_MIN_MS : Math.min(delay * 2, WS_RETRY_MAX_MS);
    reconnectTimer = window.setTimeout(() => connectSocket(next), opened ? WS_RETRY_MIN_MS : delay);
  });
}

// Back online: reconnect now instead of at the end of the back-off.
window.addEventListener("online", () => {
  if (socket && socket.readyState === WebSocket.OPEN) return;
  if (socket && socket.readyState === WebSocket.CONNECTING) return;
  connectSocket();
});

// Socket down: the API tells what the lost events would have.
window.setInterval(() => {
  if (socket && socket.readyState === WebSocket.OPEN) return;
  catchUp();
}, POLL_MS);

// Saves run one after another so the server sees the drops in the order they happened.
let saving = Promise.resolve();

function itemIds(list) {
  return [...list.children].filter((li) => li.dataset.id).map((li) => li.dataset.id);
}

async function send(url, method, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": config.csrf_token,
    },
    body: JSON.stringify(body),
  });
  // The page is the source of truth only while the server agrees; otherwise show its order.
  if (!response.ok) window.location.reload();
}

function saveOrder(list) {
  const body = { section_id: list.dataset.sectionId || null, ids: itemIds(list) };
  return send(config.reorder_url, "POST", body);
}

function saveMove(item, list) {
  const order = itemIds(list).indexOf(item.dataset.id) + 1;
  const body = { section_id: list.dataset.sectionId, order };
  return send(`${config.lecture_api}${item.dataset.id}`, "PATCH", body);
}

// The ↑ ↓ buttons of a list: the first item cannot go up, the last cannot go down.
function refreshMoveButtons(list) {
  const items = [...list.children].filter((li) => li.dataset.id);
  items.forEach((item, index) => {
    const buttons = item.querySelector(":scope > .sort-row > .sort-buttons");
    if (!buttons) return;
    buttons.querySelector('[value="up"]').disabled = index === 0;
    buttons.querySelector('[value="down"]').disabled = index === items.length - 1;
  });
}

function makeSortable(list) {
  const lectures = list.dataset.sortable === "lectures";
  Sortable.create(list, {
    // Lectures share one group, so one can be dropped into another section's list.
    group: lectures ? "lectures" : "sections",
    handle: ".sort-row__handle",
    draggable: "li[data-id]",
    animation: 150,
    ghostClass: "is-dragging",
    // Text in the rows' inputs stays selectable: only the handle starts a drag.
    filter: "input, textarea, button, a",
    preventOnFilter: false,
    onEnd(event) {
      const from = event.from;
      const to = event.to;
      if (from === to && event.oldIndex === event.newIndex) return;
      refreshMoveButtons(from);
      if (from !== to) refreshMoveButtons(to);
      saving = saving.then(() => (from === to ? saveOrder(to) : saveMove(event.item, to)));
    },
  });
}

for (const [lectureId, lecture] of Object.entries(config.lectures)) {
  const item = lectureItem(lectureId);
  if (item) item.dataset.status = lecture.status;
  if (lecture.preview_url || (lecture.document && lecture.document.page_image_urls.length)) {
    showPreview(lectureId, lecture);
  }
}
for (const element of document.querySelectorAll(".uploader[data-lecture-id]")) {
  mountUploader(element);
}
for (const list of document.querySelectorAll("[data-sortable]")) makeSortable(list);
connectSocket();

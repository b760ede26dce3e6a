// Article and presentation lectures (templates/web/lecture.html). Configuration from the
// json_script "reader-config": lecture_id, kind ("article" | "presentation"), progress_url
// (POST /api/v1/students/progress), csrf_token, completed, position; for a presentation also
// pdf_url (signed, same origin), page_count and worker_url (the bundled pdf.js worker).
//
// Article: once the end of the article has been on screen, posts {finished: true} (the
// article is then completed: API.md, Student API). Presentation: pdf.js draws one page at a
// time into the canvas (previous/next buttons, arrow keys); each page shown is posted as
// {pages: [n], position: n}, completed at >= 90 % of the pages viewed.
import { GlobalWorkerOptions, getDocument } from "pdfjs-dist/build/pdf.mjs";

const state = { posted: [], rendered: 0 };
window.lecternReader = state;

function config() {
  const element = document.getElementById("reader-config");
  return element ? JSON.parse(element.textContent) : null;
}

function post(cfg, body) {
  const record = { body, status: null };
  state.posted.push(record);
  return fetch(cfg.progress_url, {
    method: "POST",
    keepalive: true,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": cfg.csrf_token },
    body: JSON.stringify({ lecture_id: cfg.lecture_id, position: 0, watched: [], ...body }),
  }).then((response) => {
    record.status = response.status;
  });
}

function article(cfg) {
  const end = document.getElementById("article-end");
  if (!end || cfg.completed) return;
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) {
      observer.disconnect();
      post(cfg, { finished: true, position: 1 });
    }
  });
  observer.observe(end);
}

async function presentation(cfg) {
  const status = document.getElementById("reader-status");
  const canvas = document.getElementById("pdf-canvas");
  const label = document.getElementById("pdf-page");
  // The worker is created here as a classic worker from our own bundle (script-src/worker-src
  // 'self'), so pdf.js needs neither a module worker nor eval (isEvalSupported: false).
  GlobalWorkerOptions.workerPort = new Worker(cfg.worker_url);
  let pdf;
  try {
    pdf = await getDocument({ url: cfg.pdf_url, isEvalSupported: false, withCredentials: true })
      .promise;
  } catch (error) {
    status.textContent = "The document could not be loaded. Please reload the page.";
    return;
  }
  document.getElementById("pdf-pages").textContent = String(pdf.numPages);
  let current = Math.min(Math.max(Math.round(cfg.position) || 1, 1), pdf.numPages);
  let task = null;
  async function show(number) {
    current = number;
    label.textContent = String(number);
    const page = await pdf.getPage(number);
    const width = canvas.parentElement.clientWidth || 800;
    const base = page.getViewport({ scale: 1 });
    const viewport = page.getViewport({ scale: (width / base.width) * (window.devicePixelRatio || 1) });
    canvas.width = Math.floor(viewport.width);
    canvas.height = Math.floor(viewport.height);
    if (task) task.cancel();
    task = page.render({ canvas, canvasContext: canvas.getContext("2d"), viewport });
    try {
      await task.promise;
    } catch (error) {
      return; // cancelled by a newer page
    }
    state.rendered = number;
    canvas.dataset.page = String(number);
    post(cfg, { pages: [number], position: number });
  }
  document.getElementById("pdf-prev").addEventListener("click", () => {
    if (current > 1) show(current - 1);
  });
  document.getElementById("pdf-next").addEventListener("click", () => {
    if (current < pdf.numPages) show(current + 1);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight" && current < pdf.numPages) show(current + 1);
    if (event.key === "ArrowLeft" && current > 1) show(current - 1);
  });
  show(current);
}

const cfg = config();
if (cfg && cfg.kind === "article") article(cfg);
if (cfg && cfg.kind === "presentation") presentation(cfg);

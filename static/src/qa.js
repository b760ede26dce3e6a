// The lecture's Q&A panel (community.panels, templates/community/panel.html).
//
// - The list: the first page comes with the page (`qa-config`), other sorts from
//   GET /api/v1/lectures/{id}/questions?sort=; each question shows its title, votes, answers,
//   and its timestamp as a button that dispatches `lectern:seek` (static/src/player.js).
// - Ask: POST the title, body and, with "at current time", the last `lectern:time` position.
// - A thread: GET /api/v1/questions/{id} (answers), answer, vote, report, resolve (the asker).
// - Live: the lecture's socket /ws/lectures/{id}/questions/ (API.md "Lecture Q&A") adds new
//   questions and answers and applies edits and removals without a reload.
// User-written text is only ever set with textContent; bodies are the server's sanitised HTML.
import { liveSocket } from "./lib/socket.js";

const config = JSON.parse(document.getElementById("qa-config").textContent);
const list = document.getElementById("qa-list");
const empty = document.getElementById("qa-empty");
const thread = document.getElementById("qa-thread");
const answersList = document.getElementById("qa-answers");

const state = {
  sort: "votes",
  questions: new Map(config.questions.map((q) => [q.id, q])),
  order: config.questions.map((q) => q.id),
  open: null, // the question whose thread is shown
  answers: new Map(),
  now: 0,
};
window.lecternQa = state;

function clock(seconds) {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrf_token, Accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) {
    const error = new Error((data && data.error && data.error.message) || `HTTP ${response.status}`);
    error.code = data && data.error && data.error.code;
    error.details = data && data.error && data.error.details;
    error.status = response.status;
    throw error;
  }
  return data;
}

function seekButton(seconds) {
  const button = el("button", { type: "button", class: "qa__time", text: clock(seconds), "aria-label": `Play from ${clock(seconds)}` });
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    document.dispatchEvent(new CustomEvent("lectern:seek", { detail: { seconds } }));
  });
  return button;
}

function html(markup) {
  const box = el("div", { class: "qa__body" });
  box.innerHTML = markup; // sanitised by the server (tenants.markdown)
  return box;
}

function badges(post) {
  const out = [];
  if (post.pending_review) out.push(el("span", { class: "badge badge--warn qa__pending", text: "Pending review" }));
  if (post.resolved) out.push(el("span", { class: "badge badge--ok", text: "Resolved" }));
  if (post.locked) out.push(el("span", { class: "badge", text: "Locked" }));
  if (post.is_instructor) out.push(el("span", { class: "badge badge--ok", text: "Instructor" }));
  return out;
}

function questionItem(q) {
  const item = el("li", { class: "qa__item", "data-question": String(q.id) });
  const title = el("button", { type: "button", class: "qa__title", text: q.title });
  title.addEventListener("click", () => openThread(q.id));
  const meta = el("p", { class: "small muted qa__meta" }, [
    q.timestamp !== null && q.timestamp !== undefined ? seekButton(q.timestamp) : null,
    el("span", { text: ` ${q.author.name} · ${q.vote_count} votes · ${q.answer_count} answers ` }),
    ...badges(q),
  ]);
  item.append(title, meta);
  return item;
}

function visibleOrder() {
  let ids = state.order.filter((id) => state.questions.has(id));
  if (state.sort === "unanswered") ids = ids.filter((id) => state.questions.get(id).answer_count === 0);
  return ids;
}

function renderList() {
  list.replaceChildren(...visibleOrder().map((id) => questionItem(state.questions.get(id))));
  empty.hidden = list.children.length > 0;
}

async function loadSort(sort) {
  state.sort = sort;
  for (const button of document.querySelectorAll("#qa [data-sort]")) {
    button.setAttribute("aria-pressed", String(button.dataset.sort === sort));
  }
  const page = await api("GET", `${config.questions_url}?sort=${sort}`);
  for (const q of page.results) state.questions.set(q.id, q);
  state.order = page.results.map((q) => q.id);
  renderList();
}

function answerItem(a) {
  const item = el("li", { class: "qa__answer", "data-answer": String(a.id) });
  const report = el("button", { type: "button", class: "button button--small button--ghost", text: "Report" });
  report.addEventListener("click", () => reportPost(`${config.answer_url}${a.id}/report`, report));
  item.append(
    el("p", { class: "small muted" }, [el("strong", { text: a.author.name }), " ", ...badges(a)]),
    html(a.body_html),
    a.is_mine ? null : report,
  );
  return item;
}

async function reportPost(url, button) {
  const reason = window.prompt("Why should an instructor look at this post?");
  if (!reason) return;
  try {
    await api("POST", url, { reason });
    button.textContent = "Reported";
    button.disabled = true;
  } catch (error) {
    window.alert(error.message);
  }
}

function renderThread() {
  const q = state.questions.get(state.open);
  if (!q) return;
  document.getElementById("qa-thread-title").textContent = q.title;
  const vote = el("button", { type: "button", class: "button button--small button--ghost", id: "qa-vote", text: q.voted ? `Voted (${q.vote_count})` : `Vote (${q.vote_count})`, "aria-pressed": String(Boolean(q.voted)) });
  vote.addEventListener("click", async () => {
    const result = await api(q.voted ? "DELETE" : "POST", `${config.question_url}${q.id}/vote`);
    q.voted = result.voted;
    q.vote_count = result.vote_count;
    renderThread();
  });
  const actions = [vote];
  if (q.is_mine || config.moderator) {
    const resolve = el("button", { type: "button", class: "button button--small button--ghost", id: "qa-resolve", text: q.resolved ? "Reopen" : "Mark resolved" });
    resolve.addEventListener("click", async () => {
      const updated = await api("PATCH", `${config.question_url}${q.id}`, { resolved: !q.resolved });
      state.questions.set(q.id, { ...updated, voted: q.voted });
      renderThread();
    });
    actions.push(resolve);
  }
  if (!q.is_mine) {
    const report = el("button", { type: "button", class: "button button--small button--ghost", text: "Report" });
    report.addEventListener("click", () => reportPost(`${config.question_url}${q.id}/report`, report));
    actions.push(report);
  }
  document.getElementById("qa-thread-question").replaceChildren(
    el("p", { class: "small muted" }, [
      q.timestamp !== null && q.timestamp !== undefined ? seekButton(q.timestamp) : null,
      el("span", { text: ` ${q.author.name} ` }),
      ...badges(q),
    ]),
    html(q.body_html),
    el("p", { class: "qa__actions" }, actions),
  );
  const answers = [...state.answers.values()].sort((a, b) => a.id - b.id);
  answersList.replaceChildren(...answers.map(answerItem));
  document.getElementById("qa-reply").hidden = q.locked || q.status !== "published";
}

async function openThread(id) {
  const detail = await api("GET", `${config.question_url}${id}`);
  state.open = id;
  state.questions.set(id, detail);
  state.answers = new Map(detail.answers.map((a) => [a.id, a]));
  list.hidden = true;
  empty.hidden = true;
  document.getElementById("qa-ask").hidden = true;
  thread.hidden = false;
  renderThread();
}

function closeThread() {
  state.open = null;
  thread.hidden = true;
  list.hidden = false;
  document.getElementById("qa-ask").hidden = false;
  renderList();
}

function apply(event) {
  if (event.type === "question.created" || event.type === "question.updated") {
    const known = state.questions.get(event.question_id);
    const mine = event.question.author.id === config.user_id;
    state.questions.set(event.question_id, {
      ...event.question,
      is_mine: mine,
      voted: known ? known.voted : false,
    });
    if (!state.order.includes(event.question_id)) state.order.unshift(event.question_id);
  } else if (event.type === "question.removed") {
    state.questions.delete(event.question_id);
    if (state.open === event.question_id) closeThread();
  } else if (event.type === "answer.created" || event.type === "answer.updated") {
    if (state.open === event.question_id) {
      state.answers.set(event.answer.id, { ...event.answer, is_mine: event.answer.author.id === config.user_id });
    }
  } else if (event.type === "answer.removed") {
    state.answers.delete(event.answer_id);
  } else {
    return;
  }
  if (state.open !== null) renderThread();
  else renderList();
}

function connect() {
  liveSocket({ path: config.socket_path, onEvent: apply, state, finalCodes: [4401, 4404], label: "Q&A" });
}

function showError(node, error) {
  const details = error.details ? Object.values(error.details).flat().join(" ") : "";
  node.textContent = details ? `${error.message} ${details}` : error.message;
}

document.getElementById("qa-ask").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const error = document.getElementById("qa-error");
  const atTime = document.getElementById("qa-at-time");
  const body = { title: form.title.value.trim(), body: form.body.value };
  if (atTime && atTime.checked) body.timestamp = Math.floor(state.now);
  try {
    const question = await api("POST", config.questions_url, body);
    error.textContent = question.pending_review ? "Your question is waiting for review by an instructor." : "";
    state.questions.set(question.id, question);
    if (!state.order.includes(question.id)) state.order.unshift(question.id);
    form.reset();
    renderList();
  } catch (failure) {
    showError(error, failure);
  }
});

document.getElementById("qa-reply").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const error = document.getElementById("qa-reply-error");
  try {
    const answer = await api("POST", `${config.question_url}${state.open}/answers`, { body: form.body.value });
    error.textContent = answer.pending_review ? "Your answer is waiting for review by an instructor." : "";
    state.answers.set(answer.id, answer);
    form.reset();
    renderThread();
  } catch (failure) {
    showError(error, failure);
  }
});

for (const button of document.querySelectorAll("#qa [data-sort]")) {
  button.addEventListener("click", () => loadSort(button.dataset.sort));
}
document.getElementById("qa-back").addEventListener("click", closeThread);
document.addEventListener("lectern:time", (event) => {
  state.now = Number(event.detail && event.detail.seconds) || 0;
  const now = document.getElementById("qa-now");
  if (now) now.textContent = clock(state.now);
});

renderList();
connect();

// A search result of a question links to `#question-<id>` on the lecture page: its thread
// opens and the panel scrolls into view.
const linked = /^#question-(\d+)$/.exec(window.location.hash);
if (linked) {
  openThread(Number(linked[1]))
    .then(() => document.getElementById("qa").scrollIntoView({ block: "start" }))
    .catch(() => {});
}

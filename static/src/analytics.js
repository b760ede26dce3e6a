// Analytics pages of the instructor dashboard (templates/analytics/overview.html and
// course.html), bundled by esbuild into static/build/analytics.js with `make assets`.
//
// The page renders <script id="analytics-config">: scope ("school" or "course"), course_id
// (null for the school), data (the JSON of GET /api/v1/analytics/overview or
// /api/v1/courses/{id}/analytics) and, on a course page, lecture_api (/api/v1/lectures/).
//
// - Charts (Chart.js): enrollments, page views and watch minutes per day; on a course page the
//   average completion per lecture and, for the lecture picked, the retention curve (share of
//   its viewers per 5 s bin) and its most re-watched moments (GET /api/v1/lectures/{id}/analytics).
// - Live: the `analytics` events of the WebSocket /ws/dashboard/ (API.md: Realtime) are added
//   to today's point and to the totals without a reload: new_enrollment -> enrollments,
//   course_view -> page views, video_watch -> watch time. A course page counts only its own
//   course's events. The socket reconnects after a drop (back-off below).
import Chart from "chart.js/auto";

const WS_RETRY_MIN_MS = 1000;
const WS_RETRY_MAX_MS = 30000;

const config = JSON.parse(document.getElementById("analytics-config").textContent);
const data = config.data;

function todayUtc() {
  return new Date().toISOString().slice(0, 10);
}

// The daily item of today (UTC), appended (and the oldest dropped) when the day changed
// since the page was rendered.
function todayPoint() {
  const today = todayUtc();
  let last = data.daily[data.daily.length - 1];
  if (!last || last.day !== today) {
    last = { day: today, enrollments: 0, views: 0, watch_seconds: 0 };
    data.daily.push(last);
    if (data.daily.length > data.days) data.daily.shift();
  }
  return last;
}

const dailyCanvas = document.getElementById("analytics-daily");
const daily = new Chart(dailyCanvas, {
  type: "line",
  data: { labels: [], datasets: [] },
  options: {
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: "index", intersect: false },
    scales: {
      y: { beginAtZero: true, position: "left", title: { display: true, text: "count" } },
      minutes: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false },
                 title: { display: true, text: "watch minutes" } },
    },
  },
});

function renderDaily() {
  daily.data.labels = data.daily.map((d) => d.day);
  daily.data.datasets = [
    { label: "Enrollments", data: data.daily.map((d) => d.enrollments), yAxisID: "y" },
    { label: "Page views", data: data.daily.map((d) => d.views), yAxisID: "y" },
    {
      label: "Watch minutes",
      data: data.daily.map((d) => Math.round(d.watch_seconds / 6) / 10),
      yAxisID: "minutes",
    },
  ];
  daily.update();
}

function renderTotals() {
  const totals = { ...data.totals, watch_hours: (data.totals.watch_seconds / 3600).toFixed(1) };
  for (const element of document.querySelectorAll("[data-total]")) {
    element.textContent = totals[element.dataset.total];
  }
}

function bumpCourseRow(courseId, cell, amount) {
  const row = document.querySelector(`tr[data-course-id="${courseId}"] [data-cell="${cell}"]`);
  if (!row) return;
  if (cell === "watch_hours") {
    const course = data.courses.find((c) => c.course_id === courseId);
    course.watch_seconds += amount;
    row.textContent = (course.watch_seconds / 3600).toFixed(1);
  } else {
    row.textContent = Number(row.textContent) + amount;
  }
}

function apply(event) {
  if (event.type !== "analytics") return;
  if (config.scope === "course" && event.course_id !== config.course_id) return;
  const point = todayPoint();
  if (event.metric === "new_enrollment") {
    point.enrollments += 1;
    data.totals.enrollments += 1;
    bumpCourseRow(event.course_id, "enrollments", 1);
  } else if (event.metric === "course_view") {
    point.views += 1;
    data.totals.views += 1;
    bumpCourseRow(event.course_id, "views", 1);
  } else if (event.metric === "video_watch") {
    const seconds = Number(event.data.seconds) || 0;
    point.watch_seconds += seconds;
    data.totals.watch_seconds += seconds;
    bumpCourseRow(event.course_id, "watch_hours", seconds);
  } else {
    return;
  }
  renderDaily();
  renderTotals();
}

function connect(delay = WS_RETRY_MIN_MS) {
  const status = document.querySelector("[data-live-status]");
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${window.location.host}/ws/dashboard/`);
  let opened = false;
  socket.addEventListener("open", () => {
    opened = true;
    if (status) status.textContent = "Live.";
  });
  socket.addEventListener("message", (message) => {
    try {
      apply(JSON.parse(message.data));
    } catch (error) {
      console.error("analytics event not applied", error);
    }
  });
  socket.addEventListener("close", (closed) => {
    if (closed.code === 4401 || closed.code === 4403) {
      if (status) status.textContent = "Live updates unavailable: sign in again.";
      return;
    }
    if (status) status.textContent = "Live updates interrupted; reconnecting…";
    const next = opened ? WS_RETRY_MIN_MS : Math.min(delay * 2, WS_RETRY_MAX_MS);
    window.setTimeout(() => connect(next), opened ? WS_RETRY_MIN_MS : delay);
  });
}

// --- Course page: completion per lecture and a lecture's retention --------------------------

let retentionChart = null;

function renderCompletion() {
  const canvas = document.getElementById("analytics-completion");
  if (!canvas) return;
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.lectures.map((l) => l.title),
      datasets: [{ label: "Average completion (%)", data: data.lectures.map((l) => l.average_completion) }],
    },
    options: { maintainAspectRatio: false, animation: false, scales: { y: { min: 0, max: 100 } } },
  });
}

function clock(seconds) {
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
}

async function showRetention(lectureId) {
  const response = await fetch(`${config.lecture_api}${lectureId}/analytics`, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) return;
  const lecture = await response.json();
  const section = document.getElementById("analytics-lecture");
  section.hidden = false;
  section.querySelector("[data-lecture-title]").textContent = lecture.title;
  const list = section.querySelector("[data-rewatched]");
  list.replaceChildren(
    ...lecture.rewatched.map((moment) => {
      const item = document.createElement("li");
      item.textContent = `${clock(moment.start)}–${clock(moment.end)}: ${moment.rewatchers} viewers watched it again`;
      return item;
    }),
  );
  if (!lecture.rewatched.length) list.replaceChildren(document.createTextNode("Nothing re-watched yet."));
  // Where students get stuck: the questions asked and the notes taken at each bin's moment
  // (counts only) as bars on a second axis over the retention line.
  const chartData = {
    labels: lecture.retention.map((bin) => clock(bin.start)),
    datasets: [
      { type: "line", label: `Viewers still watching (of ${lecture.viewers})`, data: lecture.retention.map((bin) => Math.round(bin.share * 1000) / 10), fill: true, yAxisID: "y" },
      { type: "bar", label: "Questions asked here", data: lecture.retention.map((bin) => bin.questions), yAxisID: "marks" },
      { type: "bar", label: "Notes taken here", data: lecture.retention.map((bin) => bin.notes), yAxisID: "marks" },
    ],
  };
  if (retentionChart) {
    retentionChart.data = chartData;
    retentionChart.update();
  } else {
    retentionChart = new Chart(document.getElementById("analytics-retention"), {
      type: "line",
      data: chartData,
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: {
          y: { min: 0, max: 100, title: { display: true, text: "%" } },
          marks: { position: "right", beginAtZero: true, ticks: { precision: 0 }, grid: { drawOnChartArea: false }, title: { display: true, text: "questions, notes" } },
        },
      },
    });
  }
}

for (const button of document.querySelectorAll("[data-retention]")) {
  button.addEventListener("click", () => showRetention(button.dataset.retention));
}

renderDaily();
renderTotals();
if (config.scope === "course") {
  renderCompletion();
  if (data.lectures.length) showRetention(data.lectures[0].lecture_id);
}
connect();

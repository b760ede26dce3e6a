// The student dashboard (/my/, templates/learning/my.html): the last 30 days as a Chart.js bar
// chart of minutes watched (and lectures completed on a second axis), drawn from the page's
// "activity-data" JSON. Without scripts the server-drawn bars (#activity-bars) stay.
import Chart from "chart.js/auto";

function start() {
  const node = document.getElementById("activity-data");
  const canvas = document.getElementById("activity-chart");
  if (!node || !canvas) return;
  const days = JSON.parse(node.textContent);
  const brand = getComputedStyle(document.documentElement).getPropertyValue("--brand").trim() || "#1f6feb";
  window.lecternActivityChart = new Chart(canvas, {
    type: "bar",
    data: {
      labels: days.map((day) => day.date.slice(5)),
      datasets: [
        { label: "Minutes watched", data: days.map((day) => day.minutes), backgroundColor: brand, yAxisID: "y" },
        { type: "line", label: "Lectures completed", data: days.map((day) => day.lectures), yAxisID: "lectures", pointRadius: 2 },
      ],
    },
    options: {
      maintainAspectRatio: false,
      animation: false,
      scales: {
        y: { beginAtZero: true, title: { display: true, text: "min" } },
        lectures: { position: "right", beginAtZero: true, ticks: { precision: 0 }, grid: { drawOnChartArea: false } },
      },
    },
  });
  canvas.parentElement.hidden = false;
  document.getElementById("activity-bars").hidden = true;
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();

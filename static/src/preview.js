// Free previews on a course's public page (templates/catalog/course.html), bundled by esbuild
// into static/build/preview.js (`make assets`).
//
// Every `.preview-play` button carries `data-preview-url`: the catalogue API's preview
// endpoint (GET /api/v1/catalog/courses/<slug>/lectures/<id>/preview), which answers a
// playback object signed for an anonymous viewer (short-lived token, one lecture and media
// version). A click asks for it (no credentials: the answer is the same for everyone) and
// plays its HLS master playlist in the page's <video id="preview-video"> through hls.js, or
// the browser's own HLS (Safari, iOS) when Media Source Extensions are missing. A 429 (rate
// limited) or another error is said in #preview-status.
import Hls from "hls.js";

function start() {
  const video = document.getElementById("preview-video");
  const status = document.getElementById("preview-status");
  const title = document.getElementById("preview-title");
  if (!video) return;
  const state = { video, hls: null, playback: null, error: null };
  window.lecternPreview = state;
  const say = (text) => {
    if (status) status.textContent = text;
  };

  async function play(button) {
    say("Loading the preview…");
    let response;
    try {
      response = await fetch(button.dataset.previewUrl, {
        credentials: "omit",
        headers: { Accept: "application/json" },
      });
    } catch (error) {
      state.error = String(error);
      say("The preview could not be loaded. Check your connection and try again.");
      return;
    }
    if (!response.ok) {
      const wait = response.headers.get("Retry-After");
      state.error = `HTTP ${response.status}`;
      say(
        response.status === 429
          ? `Too many previews from your network. Try again in ${wait} seconds.`
          : "This preview is not available.",
      );
      return;
    }
    const playback = await response.json();
    state.playback = playback;
    if (title && button.dataset.title) title.textContent = button.dataset.title;
    if (state.hls) {
      state.hls.destroy();
      state.hls = null;
    }
    video.poster = playback.thumbnail_url;
    if (Hls.isSupported()) {
      const hls = new Hls();
      state.hls = hls;
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) {
          state.error = data.details;
          say("The preview stopped. Reload the page to try again.");
        }
      });
      hls.loadSource(playback.playback_url);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = playback.playback_url;
    } else {
      say("This browser cannot play the preview.");
      return;
    }
    say("");
    video.scrollIntoView({ block: "nearest" });
    video.play().catch(() => say("Press play to start the preview."));
  }

  for (const button of document.querySelectorAll(".preview-play")) {
    button.addEventListener("click", () => play(button));
  }
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}

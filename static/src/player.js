// Lecture player of the student site (templates/web/lecture.html), bundled by esbuild into
// static/build/player.js (`make assets`).
//
// The page renders the playback object server-side into <script id="player-config">:
//   lecture_id, playback_url (HLS master, token in the query), storyboard_url (WebVTT with
//   `sprite#xywh=x,y,w,h` cues; the page makes it the video's thumbnails track),
//   thumbnail_url, expires (Unix s), duration and position (s), start (s, from the page's
//   `?t=`, or null), captions ([{language, label, url}]: the track the master playlist lists
//   as its SUBTITLES rendition), progress_url (POST /api/v1/students/progress), csrf_token,
//   next_url, next_title.
//
// The controls are media-chrome's web components (one seek bar, play, +/-10 s, volume, time,
// captions, speed, picture-in-picture, fullscreen, keyboard shortcuts); the <video> itself has
// no native controls. The seek bar shows storyboard thumbnails while hovering or dragging:
// media-chrome reads them from the video's <track kind="metadata" label="thumbnails">, which
// is the storyboard WebVTT. hls.js stays the engine: it plays the HLS ladder into the same
// <video> over Media Source Extensions, or the browser's own HLS (Safari, iOS) does when MSE
// is missing.
//
// Captions: hls.js (or the browser's own HLS) turns the master playlist's SUBTITLES rendition
// into a "subtitles" text track of the video, off until chosen; media-chrome's captions button
// shows it by setting the track's mode, and hls.js then loads the WebVTT (its X-TIMESTAMP-MAP
// maps the cues onto the MPEG-TS timeline).
//
// Behaviour: starts at `start` when the page was opened with `?t=` (a search result),
// otherwise resumes at `position`; posts a heartbeat {lecture_id, position, watched} every
// HEARTBEAT_MS while playing and on pause, ended and pagehide (fetch with keepalive, so it
// survives the page going away, and with the session's CSRF token, which sendBeacon cannot
// send); `watched` holds the ranges played since the previous heartbeat; at the end counts
// down to the next ready lecture (cancellable).
import Hls from "hls.js";
import "media-chrome";

const HEARTBEAT_MS = 10000;
const NEXT_COUNTDOWN_SECONDS = 5;
// timeupdate fires every 250 ms or so; a larger jump between two samples is a seek.
const MAX_CONTINUOUS_STEP = 2.5;
// Reload the page (fresh media token) at most once in this many milliseconds.
const RELOAD_GUARD_MS = 30000;

const round3 = (x) => Math.round(x * 1000) / 1000;

export class WatchRanges {
  // Collects the [start, end] ranges (seconds) actually played, from timeupdate samples.
  constructor() {
    this.closed = [];
    this.open = null;
    this.last = null;
  }

  sample(time) {
    if (this.open && time >= this.last && time - this.last <= MAX_CONTINUOUS_STEP) {
      this.open[1] = time;
    } else {
      this.close();
      this.open = [time, time];
    }
    this.last = time;
  }

  close() {
    if (this.open && this.open[1] > this.open[0]) this.closed.push(this.open);
    this.open = null;
    this.last = null;
  }

  // The ranges since the last take(); the open range goes on from where it ended.
  take() {
    const ranges = this.closed.slice();
    if (this.open && this.open[1] > this.open[0]) {
      ranges.push([this.open[0], this.open[1]]);
      this.open = [this.open[1], this.open[1]];
    }
    this.closed = [];
    return ranges.map(([a, b]) => [round3(a), round3(b)]);
  }

  // Ranges whose heartbeat failed are sent again with the next one.
  restore(ranges) {
    this.closed.unshift(...ranges);
  }
}

function csrfToken(config) {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : config.csrf_token;
}

function start() {
  const configNode = document.getElementById("player-config");
  const video = document.getElementById("lecture-video");
  if (!configNode || !video) return;
  const config = JSON.parse(configNode.textContent);
  const status = document.getElementById("player-status");
  const ranges = new WatchRanges();
  const state = {
    video,
    hls: null,
    engine: null,
    heartbeats: [],
    storyboardCues: 0,
    nextCancelled: false,
    error: null,
  };
  window.lecternPlayer = state;

  const say = (text) => {
    if (status) status.textContent = text;
  };

  // --- Heartbeats -----------------------------------------------------------------------
  let lastSentPosition = -1;
  function heartbeat(reason) {
    const watched = ranges.take();
    const position = round3(video.currentTime || 0);
    if (!watched.length && Math.abs(position - lastSentPosition) < 0.5) return;
    lastSentPosition = position;
    const record = { reason, position, watched, status: null };
    state.heartbeats.push(record);
    fetch(config.progress_url, {
      method: "POST",
      keepalive: true,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(config) },
      body: JSON.stringify({ lecture_id: config.lecture_id, position, watched }),
    })
      .then((response) => {
        record.status = response.status;
        if (!response.ok && response.status >= 500) ranges.restore(watched);
      })
      .catch(() => {
        record.status = 0;
        ranges.restore(watched);
      });
  }
  setInterval(() => {
    if (!video.paused && !video.ended) heartbeat("interval");
  }, HEARTBEAT_MS);
  video.addEventListener("timeupdate", () => {
    if (!video.paused && !video.seeking) ranges.sample(video.currentTime);
  });
  video.addEventListener("seeking", () => ranges.close());

  // --- Panels beside the player (enrollment.hooks.lecture_panels) ------------------------
  // A panel seeks with `lectern:seek` ({detail: {seconds}}) and follows the position through
  // `lectern:time` ({detail: {seconds}}), sent when playback enters a new whole second (so a
  // mm:ss label is never behind), after every seek and on pause (the exact paused position).
  document.addEventListener("lectern:seek", (event) => {
    const seconds = Number(event.detail && event.detail.seconds);
    if (!Number.isFinite(seconds) || seconds < 0) return;
    video.currentTime = seconds;
    const playing = video.play();
    if (playing && playing.catch) playing.catch(() => {});
  });
  // The student's progress recorded from another open page (static/src/notifications.js):
  // a paused player of the same lecture moves to the new resume position. A page opened at
  // an explicit second (`?t=`: a search hit, a shared link) stays there until it is played,
  // even when the page left just before reports its own last position.
  let startPinned = config.start !== null && config.start !== undefined;
  video.addEventListener("playing", () => {
    startPinned = false;
  });
  document.addEventListener("lectern:resume", (event) => {
    const detail = event.detail || {};
    const seconds = Number(detail.position);
    if (detail.lecture_id !== config.lecture_id || !Number.isFinite(seconds)) return;
    config.position = seconds;
    state.resumedAt = seconds;
    if (startPinned) return;
    if (video.paused && Math.abs((video.currentTime || 0) - seconds) > 1) video.currentTime = seconds;
  });
  let lastAnnounced = -Infinity;
  const announce = (force) => {
    const seconds = video.currentTime || 0;
    if (!force && Math.floor(seconds) === Math.floor(lastAnnounced)) return;
    lastAnnounced = seconds;
    document.dispatchEvent(new CustomEvent("lectern:time", { detail: { seconds } }));
  };
  video.addEventListener("timeupdate", () => announce(false));
  video.addEventListener("seeked", () => announce(true));
  video.addEventListener("pause", () => {
    announce(true);
    if (!video.ended) heartbeat("pause");
  });
  video.addEventListener("ended", () => {
    ranges.sample(video.currentTime);
    heartbeat("ended");
    showNext();
  });
  window.addEventListener("pagehide", () => heartbeat("pagehide"));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") heartbeat("hidden");
  });

  // --- Media token expiry: a fresh page brings a fresh playback object --------------------
  function reloadForFreshToken() {
    const key = `lectern-reload-${config.lecture_id}`;
    const last = Number(sessionStorage.getItem(key) || 0);
    if (Date.now() - last < RELOAD_GUARD_MS) {
      say("The video could not be loaded. Please reload the page.");
      return;
    }
    sessionStorage.setItem(key, String(Date.now()));
    heartbeat("reload");
    window.location.reload();
  }
  video.addEventListener("play", () => {
    if (Date.now() / 1000 > config.expires - 30) reloadForFreshToken();
  });

  // --- Playback engine ------------------------------------------------------------------
  const resumeAt = config.position > 1 && (!config.duration || config.position < config.duration - 2) ? config.position : 0;
  const startAt = config.start !== null && config.start !== undefined ? config.start : resumeAt;
  state.startAt = startAt;
  if (Hls.isSupported()) {
    state.engine = "hls.js";
    const hls = new Hls({ startPosition: startAt > 0 ? startAt : -1, capLevelToPlayerSize: true });
    hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, (_event, data) => {
      state.subtitleTracks = data.subtitleTracks.map((track) => track.lang);
    });
    state.hls = hls;
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      state.error = `${data.type}: ${data.details}`;
      const code = data.response && data.response.code;
      if (code === 403) {
        reloadForFreshToken();
      } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        hls.startLoad();
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
      } else {
        say("This video cannot be played here.");
        hls.destroy();
      }
    });
    hls.loadSource(config.playback_url);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    state.engine = "native";
    video.addEventListener(
      "loadedmetadata",
      () => {
        if (startAt > 0) video.currentTime = startAt;
      },
      { once: true },
    );
    video.addEventListener("error", () => {
      state.error = "native playback error";
      reloadForFreshToken();
    });
    video.src = config.playback_url;
  } else {
    state.engine = "none";
    say("This browser cannot play HLS video.");
  }

  // --- Storyboard: media-chrome previews it from the track; the cue count is recorded ------
  const storyboard = video.querySelector('track[label="thumbnails"]');
  if (storyboard) {
    const loaded = () => {
      state.storyboardCues = storyboard.track.cues ? storyboard.track.cues.length : 0;
    };
    storyboard.addEventListener("load", loaded);
    if (storyboard.readyState === 2) loaded();
  }

  // --- Next lecture ---------------------------------------------------------------------
  const overlay = document.getElementById("next-overlay");
  let countdown = null;
  function showNext() {
    if (!config.next_url || !overlay) return;
    let left = NEXT_COUNTDOWN_SECONDS;
    const counter = document.getElementById("next-countdown");
    counter.textContent = String(left);
    overlay.classList.add("is-visible");
    clearInterval(countdown);
    countdown = setInterval(() => {
      left -= 1;
      counter.textContent = String(Math.max(0, left));
      if (left <= 0) {
        clearInterval(countdown);
        window.location.assign(config.next_url);
      }
    }, 1000);
  }
  const cancel = document.getElementById("next-cancel");
  if (cancel) {
    cancel.addEventListener("click", () => {
      clearInterval(countdown);
      state.nextCancelled = true;
      overlay.classList.remove("is-visible");
    });
  }
  video.addEventListener("play", () => {
    clearInterval(countdown);
    if (overlay) overlay.classList.remove("is-visible");
  });
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}

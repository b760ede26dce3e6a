"""The student site in a real browser: Debian's headless Chromium against uvicorn, a Celery
worker and FFmpeg-transcoded lectures (fixtures in ``tests/plugins/stack.py`` and
``tests/plugins/browser.py``).

A student signs up, redeems a code, plays a lecture through hls.js (Media Source Extensions,
H.264/AAC decoded by Chromium), reloads and resumes where the stored progress says, leaves
the page (the pagehide heartbeat is stored), finds exactly one seek bar (media-chrome's; the
video has no native controls), seeks with it by pointer and keyboard, sees the storyboard
tile of the hovered time in its preview, lets the lecture end and sees the countdown to the
next one; the lecture page is also shot at phone size (390x844), and no script or style is
refused by the Content-Security-Policy. The header's links are readable on a dark and on a
light school colour (WCAG contrast measured on the rendered page). Timings are printed and
recorded as properties.
"""

import base64
import io
import time
from urllib.parse import urljoin

import pytest
from PIL import Image, ImageChops, ImageStat

from tests.browser.test_api_docs import CSP_MESSAGE, VIOLATION_RECORDER
from tests.plugins.browser import save_screenshot

# django_db: pytest-django creates the test database only when a collected test asks for it,
# and this module may run alone; the test itself reads committed rows through the fixtures.
pytestmark = [pytest.mark.timeout(600), pytest.mark.django_db]

PASSWORD = "browser-pass-phrase-7"
PLAY_SECONDS = 4.0
RESUME_TOLERANCE = 2.0  # seconds between the stored position and currentTime after a reload
H264_AAC = 'video/mp4; codecs="avc1.64001f,mp4a.40.2"'
SEEK_HOVER_SHARE = 0.65  # where on the seek bar the storyboard preview is checked
TILE_MARGIN = 4  # px left out around the preview tile when comparing it (rounded corners)
# Every slider on the page, through the open shadow roots of media-chrome's elements (the
# native controls of a <video controls> live in a closed UA shadow root: checked apart).
SLIDERS = """() => {
  const found = [];
  const walk = (root) => {
    for (const node of root.querySelectorAll("*")) {
      if (node.matches('input[type="range"], [role="slider"]')) {
        const host = node.getRootNode().host;
        found.push({ host: host ? host.localName : null, label: node.getAttribute("aria-label") });
      }
      if (node.shadowRoot) walk(node.shadowRoot);
    }
  };
  walk(document);
  return found;
}"""
# The preview thumbnail as media-chrome draws it: the picture in its shadow root.
PREVIEW_STATE = """() => {
  const thumb = document.getElementById("seek-preview");
  const img = thumb.shadowRoot.querySelector("img");
  const box = thumb.getBoundingClientRect();
  return {
    coords: thumb.getAttribute("mediapreviewcoords"),
    time: Number(thumb.getAttribute("mediapreviewtime") ||
      document.getElementById("seek-bar").getAttribute("mediapreviewtime")),
    src: img.src, loaded: img.complete && img.naturalWidth > 0,
    natural: [img.naturalWidth, img.naturalHeight],
    transform: getComputedStyle(img).transform,
    size: [box.width, box.height],
    visible: box.width > 0 && getComputedStyle(thumb).visibility !== "hidden",
    // The preview box fades in (media-chrome: 0.25 s delay, 0.5 s transition).
    opacity: Number(getComputedStyle(document.getElementById("seek-bar").shadowRoot
      .querySelector('[part~="preview-box"]')).opacity),
  };
}"""


def stored_progress(school, email: str, lecture_id: str, django_db_blocker):
    """``(position, watched)`` of the student's LectureProgress row, or ``None``."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from enrollment.models import LectureProgress

    with django_db_blocker.unblock():
        with schema_context(school.schema_name):
            row = (
                LectureProgress.objects.filter(student__email=email, lecture_id=lecture_id)
                .values_list("position", "watched")
                .first()
            )
        connection.set_schema_to_public()
    return row


def wait_for(check, *, timeout: float, interval: float = 0.25, what: str):
    """Poll ``check()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def player_ready(page) -> None:
    page.wait_for_function(
        "() => window.lecternPlayer && window.lecternPlayer.video.readyState >= 1",
        timeout=30_000,
    )


def parse_storyboard(text: str) -> list[tuple[float, float, str]]:
    """``(start, end, target)`` of every cue of a storyboard WebVTT file (times in seconds,
    ``target`` as written: ``storyboard.jpg?token=...#xywh=x,y,w,h``)."""

    def seconds(stamp: str) -> float:
        total = 0.0
        for part in stamp.strip().split(":"):
            total = total * 60 + float(part)
        return total

    cues = []
    for block in text.replace("\r", "").split("\n\n"):
        lines = [line for line in block.split("\n") if line.strip()]
        for index, line in enumerate(lines[:-1]):
            if "-->" in line:
                start, end = line.split("-->")
                cues.append((seconds(start), seconds(end.split()[0]), lines[index + 1].strip()))
    return cues


def wait_for_time(page, seconds: float, *, tolerance: float = 0.05) -> None:
    """Wait until the video has sought to ``seconds`` (within ``tolerance``)."""
    page.wait_for_function(
        f"() => {{ const v = window.lecternPlayer.video;"
        f" return !v.seeking && Math.abs(v.currentTime - {seconds}) <= {tolerance}; }}",
        timeout=10_000,
    )


def fetch_in_page(page, url: str) -> tuple[int, bytes]:
    """``(status, body)`` of a GET from the page (its cookies, and its host resolution)."""
    status, encoded = page.evaluate(
        """async (url) => {
            const response = await fetch(url, { credentials: "same-origin" });
            const bytes = new Uint8Array(await response.arrayBuffer());
            let binary = "";
            for (let i = 0; i < bytes.length; i += 0x8000) {
                binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
            }
            return [response.status, btoa(binary)];
        }""",
        url,
    )
    return status, base64.b64decode(encoded)


def current_time(page) -> float:
    return page.evaluate("() => window.lecternPlayer.video.currentTime")


def test_student_signs_up_redeems_plays_and_resumes(
    browser_course, chromium, e2e_school, django_db_blocker, artifacts_dir, record_property
):
    base = browser_course.base_url
    email = "learner@e2e.test"
    lecture_path = f"/courses/{browser_course.course_id}/lectures/{browser_course.lecture_ids[0]}/"
    started = time.monotonic()
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(VIOLATION_RECORDER)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))

    # Sign up, then redeem the code on the redeem page.
    page.goto(f"{base}/signup/")
    page.fill("#id_name", "Lea Learner")
    page.fill("#id_email", email)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/my/courses/")
    assert "You are not enrolled in any course yet." in page.content()
    page.goto(f"{base}/redeem/")
    page.fill("#id_code", browser_course.codes[0])
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/courses/{browser_course.course_id}/")
    assert "You are enrolled in Browser course." in page.content()
    course_shot = save_screenshot(page, artifacts_dir, "course-page.png")

    # Open the lecture from the course page and play it.
    page.click("a.continue-link")
    page.wait_for_url(f"{base}{lecture_path}")
    assert page.evaluate(f"() => MediaSource.isTypeSupported('{H264_AAC}')"), (
        "this Chromium cannot decode H.264/AAC in Media Source Extensions"
    )
    player_ready(page)
    assert page.evaluate("() => window.lecternPlayer.engine") == "hls.js"
    assert current_time(page) == 0
    t_play = time.monotonic()
    page.evaluate("() => { const v = window.lecternPlayer.video; v.muted = true; v.play(); }")
    page.wait_for_function(
        f"() => window.lecternPlayer.video.currentTime >= {PLAY_SECONDS}", timeout=30_000
    )
    played_after = time.monotonic() - t_play
    decoded = page.evaluate(
        "() => { const v = window.lecternPlayer.video;"
        " return [v.getVideoPlaybackQuality().totalVideoFrames, v.videoWidth, v.videoHeight]; }"
    )
    assert decoded[0] >= 25 * (PLAY_SECONDS - 1), decoded  # frames really decoded
    assert decoded[1] > 0 and decoded[2] > 0, decoded

    # Pause: the pause heartbeat stores the position.
    page.evaluate("() => window.lecternPlayer.video.pause()")
    page.wait_for_function(
        "() => window.lecternPlayer.heartbeats.some(h => h.reason === 'pause' && h.status === 200)",
        timeout=15_000,
    )
    paused_at = current_time(page)
    position, watched = stored_progress(
        e2e_school, email, browser_course.lecture_ids[0], django_db_blocker
    )
    assert position > 0
    assert position == pytest.approx(paused_at, abs=0.5)
    assert watched and watched[0][0] < 1.0 and watched[-1][1] >= PLAY_SECONDS - 0.5, watched

    # Reload: the page gets the stored position and the player resumes there.
    page.reload()
    player_ready(page)
    page.wait_for_function("() => window.lecternPlayer.video.currentTime > 0", timeout=15_000)
    resumed_at = current_time(page)
    assert abs(resumed_at - position) <= RESUME_TOLERANCE, (resumed_at, position)

    # Play on, then leave the page: the pagehide heartbeat (fetch keepalive + CSRF) is stored.
    page.evaluate("() => { const v = window.lecternPlayer.video; v.muted = true; v.play(); }")
    page.wait_for_function(
        f"() => window.lecternPlayer.video.currentTime >= {position + 2}", timeout=30_000
    )
    page.goto(f"{base}/my/courses/")
    left_at = wait_for(
        lambda: (
            (
                row := stored_progress(
                    e2e_school, email, browser_course.lecture_ids[0], django_db_blocker
                )
            )
            and row[0] >= position + 1.5
            and row[0]
        ),
        timeout=15,
        what="the pagehide heartbeat",
    )
    assert "Browser course" in page.content()

    # One seek bar: the video's native controls are off and media-chrome's time range is the
    # only slider for time (the other one is the volume).
    page.goto(f"{base}{lecture_path}")
    player_ready(page)
    assert page.evaluate("() => window.lecternPlayer.video.controls") is False
    assert page.evaluate(SLIDERS) == [
        {"host": "media-time-range", "label": "seek"},
        {"host": "media-volume-range", "label": "volume"},
    ]
    seek_bar = page.locator("#seek-bar")
    box = seek_bar.bounding_box()
    # Seeking with it: a click at the middle.
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_for_time(page, browser_course.duration / 2, tolerance=1)
    # The keyboard on the focused bar (a native range): Home to the start, an arrow moves by
    # 1 % of the duration.
    assert page.evaluate("() => document.activeElement.id") == "seek-bar"
    page.keyboard.press("Home")
    wait_for_time(page, 0)
    page.keyboard.press("ArrowRight")
    wait_for_time(page, browser_course.duration / 100)
    # The player's keyboard shortcuts with the focus on its play button: arrows seek by 10 s,
    # the space bar plays and pauses.
    page.focus("media-play-button")
    page.keyboard.press("ArrowRight")
    wait_for_time(page, browser_course.duration / 100 + 10)
    page.keyboard.press("ArrowLeft")
    wait_for_time(page, browser_course.duration / 100)
    play_button = "document.querySelector('media-play-button')"
    page.keyboard.press(" ")
    page.wait_for_function(
        f"() => !window.lecternPlayer.video.paused && !{play_button}.hasAttribute('mediapaused')",
        timeout=10_000,
    )
    page.keyboard.press(" ")
    page.wait_for_function(
        f"() => window.lecternPlayer.video.paused && {play_button}.hasAttribute('mediapaused')",
        timeout=10_000,
    )

    # Captions: the button shows once the video has a subtitles track, and turns it on.
    captions = page.locator("media-captions-button")
    assert captions.is_hidden()
    page.evaluate(
        "() => { const video = window.lecternPlayer.video;"
        " video.addTextTrack('subtitles', 'English', 'en').addCue(new VTTCue(0, 20, 'Hello')); }"
    )
    captions.wait_for(state="visible", timeout=5_000)
    captions.click()
    page.wait_for_function(
        "() => window.lecternPlayer.video.textTracks[window.lecternPlayer.video.textTracks.length"
        " - 1].mode === 'showing'",
        timeout=5_000,
    )

    # Storyboard thumbnail while hovering the seek bar: the tile of the hovered time, cut
    # from the sprite the WebVTT cue names.
    page.wait_for_function("() => window.lecternPlayer.storyboardCues > 0", timeout=15_000)
    page.mouse.move(box["x"] + box["width"] * SEEK_HOVER_SHARE, box["y"] + box["height"] / 2)
    page.wait_for_function(
        f"() => {{ const p = ({PREVIEW_STATE})();"
        " return p.loaded && p.visible && p.opacity === 1; }",
        timeout=5_000,
    )
    preview = page.evaluate(PREVIEW_STATE)
    vtt_url = page.evaluate("() => document.querySelector('track[label=thumbnails]').src")
    vtt_status, vtt = fetch_in_page(page, vtt_url)
    assert vtt_status == 200
    cues = parse_storyboard(vtt.decode())
    assert len(cues) == browser_course.duration // 2  # one tile per 2 s
    assert preview["time"] == pytest.approx(browser_course.duration * SEEK_HOVER_SHARE, abs=1)
    *_, target = next(cue for cue in cues if cue[0] <= preview["time"] < cue[1])
    sprite_url, xywh = target.split("#xywh=")
    x, y, w, h = (int(part) for part in xywh.split(","))
    assert (x, y, w, h) == (160 * int(preview["time"] // 2), 0, 160, 90)
    assert preview["coords"] == f"{x} {y} {w} {h}"
    assert preview["src"] == urljoin(vtt_url, sprite_url)
    assert "storyboard.jpg?token=" in preview["src"]
    assert preview["size"] == [w, h]
    assert preview["transform"] == f"matrix(1, 0, 0, 1, {-x}, {-y})"
    sprite_status, sprite_bytes = fetch_in_page(page, preview["src"])
    assert sprite_status == 200
    sprite = Image.open(io.BytesIO(sprite_bytes)).convert("RGB")
    assert preview["natural"] == list(sprite.size)
    at = page.locator("#seek-preview").bounding_box()
    clip = {"x": round(at["x"]), "y": round(at["y"]), "width": w, "height": h}
    shown = Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB")
    hover_shot = save_screenshot(page, artifacts_dir, "lecture-storyboard-hover.png")
    sprite.crop((x, y, x + w, y + h)).save(artifacts_dir / "storyboard-tile-expected.png")
    shown.save(artifacts_dir / "storyboard-tile-shown.png")

    # The picture shown is that tile, not its neighbours (the test picture moves every frame):
    # mean difference per channel (0-255) inside the rounded corners. Chromium's JPEG decoding
    # and colour handling leave a few units against Pillow's; a neighbour differs 3x as much.
    def difference(tile_x: int) -> float:
        inner = (TILE_MARGIN, TILE_MARGIN, w - TILE_MARGIN, h - TILE_MARGIN)
        expected = sprite.crop((tile_x, y, tile_x + w, y + h)).crop(inner)
        return sum(ImageStat.Stat(ImageChops.difference(shown.crop(inner), expected)).mean) / 3

    neighbours = [tile_x for tile_x in (x - w, x + w) if 0 <= tile_x <= sprite.width - w]
    assert neighbours
    differences = {tile_x: difference(tile_x) for tile_x in (x, *neighbours)}
    assert differences[x] < 6, differences
    assert all(differences[x] * 2 < differences[tile_x] for tile_x in neighbours), differences
    assert page.evaluate("window.__cspViolations") == []

    # The end: a countdown to the next lecture, which can be cancelled, then moves on.
    page.mouse.move(0, 0)
    end = browser_course.duration - 1.5
    page.evaluate(
        f"() => {{ const v = window.lecternPlayer.video; v.muted = true; v.currentTime = {end};"
        " v.play(); }"
    )
    overlay = page.locator("#next-overlay")
    overlay.wait_for(state="visible", timeout=15_000)
    countdown_shot = save_screenshot(page, artifacts_dir, "lecture-next-countdown.png")
    next_path = f"/courses/{browser_course.course_id}/lectures/{browser_course.lecture_ids[1]}/"
    assert page.locator("#next-now").get_attribute("href") == next_path
    page.click("#next-cancel")
    overlay.wait_for(state="hidden", timeout=5_000)
    time.sleep(1.5)
    assert page.url == f"{base}{lecture_path}"
    page.evaluate(
        f"() => {{ const v = window.lecternPlayer.video; v.currentTime = {end}; v.play(); }}"
    )
    page.wait_for_url(f"{base}{next_path}", timeout=20_000)
    player_ready(page)
    first_done = stored_progress(
        e2e_school, email, browser_course.lecture_ids[0], django_db_blocker
    )
    assert first_done[1][-1][1] >= browser_course.duration - 0.5, first_done

    # Phone size: the lecture page fits 390 px without sideways scrolling.
    phone = chromium.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        storage_state=context.storage_state(),
    )
    phone_page = phone.new_page()
    phone_page.goto(f"{base}{lecture_path}")
    player_ready(phone_page)
    assert phone_page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert phone_page.locator("#lecture-video").bounding_box()["width"] <= 390
    phone_shot = save_screenshot(phone_page, artifacts_dir, "lecture-phone-390x844.png")
    phone_full = save_screenshot(
        phone_page, artifacts_dir, "lecture-phone-390x844-full.png", full_page=True
    )
    phone_page.goto(f"{base}/my/courses/")
    phone_page.click("label.nav-toggle__button")
    phone_page.locator(".site-nav").wait_for(state="visible")
    assert phone_page.evaluate("() => document.documentElement.scrollWidth") <= 390
    courses_shot = save_screenshot(phone_page, artifacts_dir, "my-courses-phone-390x844.png")
    phone.close()
    context.close()

    total = time.monotonic() - started
    print(
        f"browser scenario: {total:.1f} s; {PLAY_SECONDS} s of video played in "
        f"{played_after:.1f} s; paused at {paused_at:.2f} s, stored {position:.2f} s, "
        f"resumed at {resumed_at:.2f} s; left at {left_at:.2f} s"
    )
    print(f"artefacts: {hover_shot.parent}")
    record_property("scenario_seconds", round(total, 1))
    record_property("resume_error_seconds", round(abs(resumed_at - position), 3))
    shots = [course_shot, hover_shot, countdown_shot, phone_shot, phone_full, courses_shot]
    record_property("screenshots", [str(shot) for shot in shots])
    assert not [line for line in console if line.startswith("error")], console
    assert [line for line in console if CSP_MESSAGE in line] == []


def test_native_hls_fallback_plays_and_resumes(
    browser_course, chromium, e2e_school, django_db_blocker, artifacts_dir
):
    """Without Media Source Extensions (as on iPhone Safari) the page hands the playlist to the
    browser's own HLS; Chromium plays HLS natively too, so the same checks apply."""
    base = browser_course.base_url
    email = "native@e2e.test"
    context = chromium.new_context(viewport={"width": 1024, "height": 768})
    context.add_init_script("delete window.MediaSource; delete window.ManagedMediaSource;")
    page = context.new_page()

    # Sign up, log out, log in again through the form (e-mail in capitals) landing on the
    # redeem page (`next`), and redeem.
    page.goto(f"{base}/signup/")
    page.fill("#id_email", email)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/my/courses/")
    page.click("header button:has-text('Log out')")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/login/?next=/redeem/")
    page.fill("#id_username", email.upper())
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/redeem/")
    page.fill("#id_code", browser_course.codes[1].lower())
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/courses/{browser_course.course_id}/")

    page.click("a.continue-link")
    if not page.evaluate(
        "() => document.createElement('video').canPlayType('application/vnd.apple.mpegurl')"
    ):
        context.close()
        pytest.skip("this Chromium has no native HLS playback")
    player_ready(page)
    assert page.evaluate("() => window.lecternPlayer.engine") == "native"
    page.evaluate("() => { const v = window.lecternPlayer.video; v.muted = true; v.play(); }")
    page.wait_for_function("() => window.lecternPlayer.video.currentTime >= 3", timeout=30_000)
    page.evaluate("() => window.lecternPlayer.video.pause()")
    page.wait_for_function(
        "() => window.lecternPlayer.heartbeats.some(h => h.reason === 'pause' && h.status === 200)",
        timeout=15_000,
    )
    position, _ = stored_progress(
        e2e_school, email, browser_course.lecture_ids[0], django_db_blocker
    )
    page.reload()
    player_ready(page)
    page.wait_for_function("() => window.lecternPlayer.video.currentTime > 0", timeout=15_000)
    resumed_at = current_time(page)
    # The same controls as with hls.js: one seek bar, no native controls.
    assert page.evaluate("() => window.lecternPlayer.video.controls") is False
    assert page.evaluate(SLIDERS) == [
        {"host": "media-time-range", "label": "seek"},
        {"host": "media-volume-range", "label": "volume"},
    ]
    save_screenshot(page, artifacts_dir, "lecture-native-hls.png")
    context.close()

    assert position >= 3 - 0.5
    assert abs(resumed_at - position) <= RESUME_TOLERANCE, (resumed_at, position)


# The rendered colours of an element: its text, the first opaque background behind it (its
# own or an ancestor's), and the product of the opacities on the way (1 = drawn as computed).
# The header has no translucent backgrounds, so the first opaque one is what shows through.
RENDERED_COLOURS = """(element) => {
  const style = getComputedStyle(element);
  let background = null;
  let opacity = 1;
  for (let node = element; node; node = node.parentElement) {
    const own = getComputedStyle(node);
    opacity *= Number(own.opacity);
    if (!background && !/^rgba\\(.*, 0\\)$|^transparent$/.test(own.backgroundColor)) {
      background = own.backgroundColor;
    }
  }
  const box = element.getBoundingClientRect();
  return {
    color: style.color, background, opacity, text: element.innerText.trim(),
    visible: box.width > 0 && box.height > 0 && style.visibility === "visible",
  };
}"""


def _rgb(css: str) -> tuple[int, int, int]:
    """``(r, g, b)`` of a computed CSS colour (``rgb(r, g, b)`` or ``rgba(r, g, b, a)``)."""
    red, green, blue = (int(part) for part in css[css.index("(") + 1 : -1].split(",")[:3])
    return red, green, blue


def drawn(link: dict) -> str:
    """The text colour as drawn: the computed colour over the background at the opacity of
    the element and its ancestors (opacity 0.9 shows white text as 90 % white)."""
    text, background = _rgb(link["color"]), _rgb(link["background"])
    alpha = link["opacity"]
    mixed = (round(t * alpha + b * (1 - alpha)) for t, b in zip(text, background, strict=True))
    return "rgb({}, {}, {})".format(*mixed)


def wcag_contrast(first: str, second: str) -> float:
    """WCAG 2.2 contrast ratio of two computed CSS colours (``rgb(r, g, b)``), computed here
    from the definition rather than with the code under test."""

    def luminance(css: str) -> float:
        red, green, blue = _rgb(css)
        linear = [
            c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
            for c in (red, green, blue)
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def set_school_colour(page, base: str, colour: str) -> str:
    """As the school's owner (logged in on ``page``), save ``colour`` on the dashboard's
    branding page; return the colour it had."""
    page.goto(f"{base}/dashboard/branding/")
    previous = page.input_value("#id_primary_color")
    page.fill("#id_primary_color", colour)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/branding/")
    assert page.input_value("#id_primary_color") == colour
    return previous


@pytest.mark.parametrize(
    ("colour", "header_rgb"),
    [("#1b2a4a", "rgb(27, 42, 74)"), ("#ffd60a", "rgb(255, 214, 10)")],
    ids=["dark", "light"],
)
def test_header_links_are_readable_on_the_school_colour(
    colour, header_rgb, web_server, e2e_school, chromium, artifacts_dir
):
    """The owner picks a dark or a light colour on the dashboard; a visitor's header then
    shows "Log in" and a "Sign up" button, both with a contrast ratio of at least 4.5:1
    (WCAG 2.2 AA for text) against what they are drawn on."""
    base = f"http://{web_server.host(e2e_school.subdomain)}"
    owner = chromium.new_context()
    owner_page = owner.new_page()
    owner_page.goto(f"{base}/login/")
    owner_page.fill("#id_username", e2e_school.owner_email)
    owner_page.fill("#id_password", e2e_school.owner_password)
    owner_page.click("main button[type=submit]")
    owner_page.wait_for_url(lambda url: "/login/" not in url)
    previous = set_school_colour(owner_page, base, colour)
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(VIOLATION_RECORDER)
    try:
        page = context.new_page()
        page.goto(f"{base}/")
        log_in = page.locator("header a[href='/login/']").evaluate(RENDERED_COLOURS)
        sign_up = page.locator("header a[href='/signup/']").evaluate(RENDERED_COLOURS)
        header = page.locator("header.site-header").bounding_box()
        save_screenshot(page, artifacts_dir, f"header-{colour[1:]}.png", clip=header)
        # At phone size the links fold into the menu, drawn the same way.
        page.set_viewport_size({"width": 390, "height": 844})
        page.click("label.nav-toggle__button")
        phone_sign_up = page.locator("header a[href='/signup/']").evaluate(RENDERED_COLOURS)
        phone_width = page.evaluate("() => document.documentElement.scrollWidth")
        save_screenshot(page, artifacts_dir, f"header-{colour[1:]}-phone.png", full_page=True)
        violations = page.evaluate("window.__cspViolations")
    finally:
        context.close()
        set_school_colour(owner_page, base, previous)
        owner.close()

    assert violations == []
    assert log_in["text"] == "Log in" and log_in["visible"], log_in
    assert sign_up["text"] == "Sign up" and sign_up["visible"], sign_up
    for link in (log_in, sign_up):
        assert wcag_contrast(drawn(link), link["background"]) >= 4.5, link
    assert log_in["background"] == header_rgb, log_in
    assert phone_sign_up == sign_up
    assert phone_width <= 390
    assert sign_up["background"] != header_rgb, sign_up  # a button, not a bare link

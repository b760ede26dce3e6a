"""A student edits their profile in a real browser (Debian's headless Chromium against the
session's uvicorn server): name, bio, time zone and a picture uploaded from disk; the header and
the profile card show them after the save, the picture is the re-encoded PNG served by the
school (at most 512 px), and no script or style is refused by the Content-Security-Policy."""

import io

import pytest
from PIL import Image

from tests.browser.test_api_docs import CSP_MESSAGE, VIOLATION_RECORDER
from tests.browser.test_student_site import fetch_in_page
from tests.plugins.browser import save_screenshot

pytestmark = [pytest.mark.timeout(300), pytest.mark.django_db]

PASSWORD = "profile-pass-phrase-7"


def test_student_edits_profile_with_a_picture(
    chromium, e2e_school, web_server, artifacts_dir, tmp_path
):
    base = f"http://{web_server.host(e2e_school.subdomain)}"
    picture = tmp_path / "me.jpg"
    Image.new("RGB", (1600, 900), (200, 40, 90)).save(picture, "JPEG")
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(VIOLATION_RECORDER)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))

    page.goto(f"{base}/signup/")
    page.fill("#id_name", "Pat Profile")
    page.fill("#id_email", "profile@e2e.test")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/my/courses/")
    assert page.inner_text(".site-nav__name") == "Pat Profile"
    assert page.locator(".site-nav__avatar").count() == 0

    page.click("a.site-nav__user")
    page.wait_for_url(f"{base}/account/")
    profile = page.locator("#profile form")
    profile.locator("[name=profile-name]").fill("Pat <b>Renamed</b>")
    profile.locator("[name=profile-bio]").fill("I like **maths** and <script>alert(1)</script>")
    profile.locator("[name=profile-time_zone]").select_option("Europe/Lisbon")
    profile.locator("[name=profile-avatar]").set_input_files(str(picture))
    profile.locator("button[type=submit]").click()
    page.wait_for_load_state("load")

    # The header and the card show the new profile; markup in the name stays text.
    assert page.inner_text(".site-nav__name") == "Pat <b>Renamed</b>"
    assert page.inner_text(".profile-card__name") == "Pat <b>Renamed</b>"
    assert "Europe/Lisbon" in page.inner_text(".profile-card")
    assert page.inner_html(".profile-card__bio strong") == "maths"
    assert page.locator(".profile-card__bio script").count() == 0
    page.wait_for_function(
        "() => [...document.querySelectorAll('.site-nav__avatar, img.profile-card__avatar')]"
        ".every((img) => img.complete && img.naturalWidth > 0)",
        timeout=10_000,
    )
    src = page.get_attribute(".site-nav__avatar", "src")
    status, body = fetch_in_page(page, src)
    assert status == 200
    stored = Image.open(io.BytesIO(body))
    assert (stored.format, stored.size) == ("PNG", (512, 288))
    save_screenshot(page, artifacts_dir, "profile-page.png")

    violations = page.evaluate("() => window.__cspViolations")
    assert violations == [], violations
    assert not [line for line in console if CSP_MESSAGE in line], console
    context.close()

"""A visitor on a course's public page, in a real browser (uvicorn, Celery-transcoded
lectures and Chromium: ``tests/browser/conftest.py``).

Without an account the visitor opens ``/courses/<slug>/``, plays the free preview (hls.js
through the anonymous playback object of the catalogue API: the video really advances), then
follows "Redeem a code": the log-in page, "Create an account", the sign-up form, back to the
redeem page, the code, and lands on the course. No script or style is refused by the
Content-Security-Policy (the JSON-LD block included).
"""

import secrets

import pytest

from tests.browser.test_api_docs import CSP_MESSAGE, VIOLATION_RECORDER
from tests.plugins.browser import save_screenshot

pytestmark = [pytest.mark.timeout(300), pytest.mark.django_db]

PASSWORD = "visitor-pass-phrase-7"
PLAY_SECONDS = 2.0


@pytest.fixture(scope="module")
def preview_course(browser_course, e2e_school, django_db_blocker):
    """``browser_course`` with its second lecture a free preview (put back afterwards) and one
    more access code, committed (module scope: outside the test's transaction, so the web
    server sees them). Returns ``(slug, code)``."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from courses.models import Course, Lecture
    from enrollment.services import access_codes_create

    with django_db_blocker.unblock(), schema_context(e2e_school.schema_name):
        lecture = Lecture.objects.get(pk=browser_course.lecture_ids[1])
        lecture.free_preview = True
        lecture.save()
        batch = access_codes_create(
            course=Course.objects.get(pk=browser_course.course_id), quantity=1
        )
        slug = Course.objects.get(pk=browser_course.course_id).slug
    connection.set_schema_to_public()
    yield slug, batch.codes[0]
    with django_db_blocker.unblock(), schema_context(e2e_school.schema_name):
        lecture.free_preview = False
        lecture.save()
    connection.set_schema_to_public()


def test_visitor_plays_the_free_preview_and_redeems_a_code(
    browser_course, preview_course, chromium, artifacts_dir, record_property
):
    slug, code = preview_course
    base = browser_course.base_url
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(VIOLATION_RECORDER)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}/courses/{slug}/")
        assert page.title() == f"Browser course · {page.text_content('.brand__name').strip()}"
        assert page.text_content("#preview-title") == "Second steps"
        assert page.locator(".curriculum__preview").count() == 1

        page.evaluate("() => { document.getElementById('preview-video').muted = true; }")
        page.click("#preview-play")
        page.wait_for_function(
            f"() => document.getElementById('preview-video').currentTime >= {PLAY_SECONDS}",
            timeout=30_000,
        )
        playback = page.evaluate("() => window.lecternPreview.playback")
        assert playback["lecture_id"] == browser_course.lecture_ids[1]
        assert ".0." in playback["playback_url"]  # the anonymous viewer's token: v2.<kid>.0.<exp>
        save_screenshot(page, artifacts_dir, "public-course-page.png", full_page=True)

        page.click("#course-redeem")
        page.wait_for_url(f"{base}/login/?next=/redeem/%3Fcourse%3D{slug}")
        page.click("text=Create an account")
        page.fill("#id_name", "Vera Visitor")
        page.fill("#id_email", f"visitor-{secrets.token_hex(3)}@e2e.test")
        page.fill("#id_password1", PASSWORD)
        page.fill("#id_password2", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(f"{base}/redeem/?course={slug}")
        page.fill("#id_code", code)
        page.click("main button[type=submit]")
        page.wait_for_url(f"{base}/courses/{browser_course.course_id}/")
        assert "You are enrolled in Browser course." in page.content()

        page.goto(f"{base}/courses/{slug}/")
        assert (
            page.get_attribute("#course-continue", "href")
            == f"/courses/{browser_course.course_id}/"
        )
        violations = page.evaluate("() => window.__cspViolations")
        assert violations == [], f"{CSP_MESSAGE}: {violations}"
        assert errors == []
    finally:
        context.close()

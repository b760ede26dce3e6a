"""The analytics pages in a real browser (Debian's headless Chromium against uvicorn; fixtures
in ``tests/plugins/stack.py`` and ``tests/plugins/browser.py``): the school page shows the rolled
up totals, and ``analytics`` events published on the school's channel-layer group (real
channels-redis, from this process, as the web and worker processes publish them) update the
totals and the course row without a reload."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from analytics.realtime import dashboard_publish
from tests.plugins.browser import save_screenshot

# No ``db`` fixture: the server must see the committed account and course. The school is the
# module's own (``fresh_school``): the page's totals are school-wide, and the session's e2e
# school has the enrollments and views of the other browser tests.
pytestmark = [pytest.mark.timeout(300)]

PASSWORD = "analytics-pass-phrase-7"
EMAIL = "analyst@e2e.test"
LIVE_TIMEOUT_MS = 15_000


@pytest.fixture
def course(fresh_school, django_db_blocker):
    """An instructor of the e2e school and a course; returns the course id."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import schema_context

    from courses.services import course_create, lecture_create, section_create

    with django_db_blocker.unblock():
        with schema_context(fresh_school.schema_name):
            users = get_user_model().objects
            user = users.filter(email=EMAIL).first() or users.create_user(
                email=EMAIL, password=PASSWORD, role="instructor", name="Ana Lyst"
            )
            created = course_create(title="Analytics live course", created_by=user)
            lecture_create(section=section_create(course=created, title="S"), title="L")
        connection.set_schema_to_public()
    return str(created.id)


def test_live_events_update_the_analytics_page(
    web_server,
    fresh_school,
    course,
    chromium,
    artifacts_dir,
):
    base = f"http://{web_server.host(fresh_school.subdomain)}"
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/dashboard/analytics/")
    page.wait_for_url(f"{base}/login/?next=/dashboard/analytics/")
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/analytics/")
    page.wait_for_selector("[data-live-status]:has-text('Live.')", timeout=LIVE_TIMEOUT_MS)
    row = f"tr[data-course-id='{course}']"
    assert page.text_content("[data-total=enrollments]") == "0"
    assert page.text_content(f"{row} [data-cell=views]") == "0"

    def send(metric, data):
        # From another thread: playwright keeps an event loop on this one.
        message = {"type": "analytics", "metric": metric, "course_id": course, "data": data}
        with ThreadPoolExecutor(1) as pool:
            pool.submit(
                dashboard_publish, schema_name=fresh_school.schema_name, message=message
            ).result()

    send("new_enrollment", {"enrollment_id": 1, "student_id": 2, "enrolled_at": "2026-01-01"})
    send("course_view", {"student_id": 2, "lecture_id": None, "viewed_at": "2026-01-01"})
    send("course_view", {"student_id": 2, "lecture_id": None, "viewed_at": "2026-01-01"})
    send("video_watch", {"lecture_id": course, "student_id": 2, "seconds": 1800.0})
    page.wait_for_selector("[data-total=watch_hours]:has-text('0.5')", timeout=LIVE_TIMEOUT_MS)
    assert page.text_content("[data-total=enrollments]") == "1"
    assert page.text_content("[data-total=views]") == "2"
    assert page.text_content(f"{row} [data-cell=enrollments]") == "1"
    assert page.text_content(f"{row} [data-cell=views]") == "2"
    assert page.text_content(f"{row} [data-cell=watch_hours]") == "0.5"
    save_screenshot(page, artifacts_dir, "analytics-overview-live.png", full_page=True)

    page.goto(f"{base}/dashboard/courses/{course}/analytics/")
    page.wait_for_selector("#analytics-lecture:not([hidden])", timeout=LIVE_TIMEOUT_MS)
    assert page.text_content("[data-rewatched]") == "Nothing re-watched yet."
    save_screenshot(page, artifacts_dir, "analytics-course.png", full_page=True)
    assert errors == []
    context.close()


@pytest.mark.django_db
def test_the_pages_script_is_built(tenant):
    # Also the module's ``db`` test: pytest-django creates the test database only for a run
    # that collects one (see analytics/tests/conftest.py).
    from tests.plugins.stack import REPO_ROOT

    bundle = REPO_ROOT / "static" / "build" / "analytics.js"
    assert bundle.exists(), "run `make assets` (esbuild bundles static/src/analytics.js)"
    assert "analytics-config" in bundle.read_text()

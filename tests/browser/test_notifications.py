"""Live notifications in a real browser (Chromium against uvicorn and the session's Celery
worker, ``tests/browser/conftest.py``): a student's open lecture page gets the bell count and
a toast when the instructor answers their question through the API (the answer's fan-out runs
in the worker), and the student's course page open in a second tab marks a lecture done as
soon as the student's progress on it is recorded elsewhere (``/ws/notifications/``)."""

import secrets

import pytest

from tests.browser.test_api_docs import VIOLATION_RECORDER

pytestmark = [pytest.mark.timeout(180), pytest.mark.django_db]

PASSWORD = "notify-browser-pass-phrase-5"


@pytest.fixture(scope="module")
def notified_student(browser_course, e2e_school, django_db_blocker) -> str:
    """A student of the e2e school enrolled in the browser course (committed); its e-mail."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import schema_context

    from enrollment.models import Enrollment

    email = f"bell-{secrets.token_hex(3)}@notify.test"
    with django_db_blocker.unblock(), schema_context(e2e_school.schema_name):
        student = get_user_model().objects.create_user(
            email=email, password=PASSWORD, role="student", name="Bea Bell"
        )
        Enrollment.objects.create(student=student, course_id=browser_course.course_id)
    connection.set_schema_to_public()
    return email


FETCH = """async ([path, headers, body]) => {
  const response = await fetch(path, {method: "POST", body: JSON.stringify(body),
    headers: {"Content-Type": "application/json", ...headers}});
  return [response.status, await response.json()];
}"""


class Api:
    """JSON POSTs from a page of its own browser context (no session cookie: the JWT in
    ``Authorization`` is the only credential), so the host resolves as for the pages."""

    def __init__(self, chromium, base: str) -> None:
        self.page = chromium.new_context().new_page()
        self.page.goto(f"{base}/robots.txt")

    def post(self, path: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
        return tuple(self.page.evaluate(FETCH, [path, headers or {}, body]))

    def token(self, email: str, password: str) -> dict:
        status, body = self.post("/api/v1/auth/token", {"email": email, "password": password})
        assert status == 200, body
        return {"Authorization": f"Bearer {body['access']}"}


def test_the_bell_and_the_outline_update_live(
    browser_course, chromium, e2e_school, notified_student
):
    base = browser_course.base_url
    course, (first, second) = browser_course.course_id, browser_course.lecture_ids
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(VIOLATION_RECORDER)
    page = context.new_page()
    page.goto(f"{base}/login/?next=/courses/{course}/lectures/{first}/")
    page.fill("#id_username", notified_student)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/courses/{course}/lectures/{first}/")
    outline = context.new_page()
    outline.goto(f"{base}/courses/{course}/")
    for tab in (page, outline):
        tab.wait_for_function(
            "() => window.lecternNotifications && window.lecternNotifications.live",
            timeout=20_000,
        )
    assert page.locator("#notif-count").is_hidden()

    api = Api(chromium, base)
    student = api.token(notified_student, PASSWORD)
    teacher = api.token(e2e_school.owner_email, e2e_school.owner_password)
    status, asked = api.post(
        f"/api/v1/lectures/{first}/questions",
        {"title": "Is the <b>ending</b> on the quiz?", "body": ""},
        student,
    )
    assert status == 201, asked
    status, answered = api.post(
        f"/api/v1/questions/{asked['id']}/answers", {"body": "Yes, the last two minutes."}, teacher
    )
    assert status == 201, answered

    page.locator("#notif-count", has_text="1").wait_for(timeout=20_000)
    toast = page.locator("#notif-toasts .toast").first
    toast.wait_for()
    assert toast.locator("strong").inner_text() == (
        "An instructor answered “Is the <b>ending</b> on the quiz?”"
    )
    assert page.locator("#notif-toasts b").count() == 0
    assert page.locator("#notif-bell").get_attribute("aria-label") == "Notifications: 1 unread"

    mark = outline.locator(f"[data-lecture='{second}'] .outline__mark")
    assert "outline__mark--done" not in (mark.get_attribute("class") or "")
    status, progress = api.post(
        "/api/v1/students/progress",
        {
            "lecture_id": second,
            "position": browser_course.duration,
            "watched": [[0, browser_course.duration]],
        },
        student,
    )
    assert (status, progress["completed"]) == (200, True)
    outline.locator(f"[data-lecture='{second}'] .outline__mark--done").wait_for(timeout=10_000)
    assert mark.inner_text() == "\u2713"
    assert page.evaluate("() => window.__cspViolations || []") == []
    context.close()

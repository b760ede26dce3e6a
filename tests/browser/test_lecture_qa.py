"""The lecture Q&A in a real browser (Chromium against uvicorn, the session's transcoded
course, ``tests/browser/conftest.py``): a student asks at 0:04 from the panel beside the
player, the instructor answers on the dashboard, the student's open page shows the answer
without a reload (the lecture's socket), the question's timestamp seeks the video to 4 s, and
a toxic question is held ("pending review" for its author) and waits in the instructor's
moderation queue page. No script or style is refused by the Content-Security-Policy.
"""

import secrets
import time

import pytest

from tests.browser.test_api_docs import VIOLATION_RECORDER

pytestmark = [pytest.mark.timeout(300), pytest.mark.django_db]

PASSWORD = "qa-browser-pass-phrase-3"
ASKED_AT = 4  # seconds
TOXIC = "You are a fucking idiot and this course is shit"


@pytest.fixture(scope="module")
def qa_student(browser_course, e2e_school, django_db_blocker) -> str:
    """A student of the e2e school enrolled in the browser course; its e-mail. Module-scoped:
    made outside the test's transaction, so the server sees it (the school is dropped with
    its schema at the end of the session)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import schema_context

    from enrollment.models import Enrollment

    email = f"asker-{secrets.token_hex(3)}@qa.test"
    with django_db_blocker.unblock(), schema_context(e2e_school.schema_name):
        student = get_user_model().objects.create_user(
            email=email, password=PASSWORD, role="student", name="Asha Asker"
        )
        Enrollment.objects.create(student=student, course_id=browser_course.course_id)
    connection.set_schema_to_public()
    return email


def sign_in(page, base: str, email: str, password: str, next_path: str) -> None:
    page.goto(f"{base}/login/?next={next_path}")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}{next_path}")


def test_student_asks_at_a_time_instructor_answers_live_and_toxic_posts_wait(
    browser_course, chromium, e2e_school, qa_student
):
    base = browser_course.base_url
    lecture_path = f"/courses/{browser_course.course_id}/lectures/{browser_course.lecture_ids[0]}/"
    started = time.monotonic()
    student_context = chromium.new_context(viewport={"width": 1280, "height": 900})
    student_context.add_init_script(VIOLATION_RECORDER)
    page = student_context.new_page()
    sign_in(page, base, qa_student, PASSWORD, lecture_path)
    page.wait_for_function(
        "() => window.lecternPlayer && window.lecternPlayer.video.readyState >= 1"
        " && window.lecternQa && window.lecternQa.live",
        timeout=30_000,
    )

    # Play past 0:04, pause there (the player announces the position it seeked to), and ask
    # "at current time".
    page.evaluate("() => { const v = window.lecternPlayer.video; v.muted = true; v.play(); }")
    page.wait_for_function(
        f"() => window.lecternPlayer.video.currentTime >= {ASKED_AT}", timeout=30_000
    )
    page.evaluate(
        f"() => {{ const v = window.lecternPlayer.video; v.pause(); v.currentTime = {ASKED_AT}; }}"
    )
    page.wait_for_function("() => document.getElementById('qa-now').textContent === '0:04'")
    page.fill("#qa-title", "Why does the picture move left here?")
    page.fill("#qa-body", "Around **this** moment.")
    page.check("#qa-at-time")
    page.click("#qa-ask button[type=submit]")
    item = page.locator("#qa-list li", has_text="Why does the picture move left here?")
    item.wait_for()
    assert item.locator(".qa__time").inner_text() == "0:04"
    question_id = int(item.get_attribute("data-question"))
    item.locator(".qa__title").click()
    page.locator("#qa-thread-question .qa__body strong", has_text="this").wait_for()

    # The instructor answers on the dashboard, in another browser.
    teacher_context = chromium.new_context(viewport={"width": 1280, "height": 900})
    teacher_context.add_init_script(VIOLATION_RECORDER)
    teacher = teacher_context.new_page()
    sign_in(
        teacher, base, e2e_school.owner_email, e2e_school.owner_password, "/dashboard/questions/"
    )
    teacher.click(f"#question-inbox tr[data-question-id='{question_id}'] a")
    teacher.fill("#answer-body", "The camera *pans* to follow the subject.")
    answered_at = time.monotonic()
    teacher.click("#answer-form button[type=submit]")
    teacher.wait_for_url(f"{base}/dashboard/questions/{question_id}/")

    # The student's open page shows it without a reload.
    answer = page.locator("#qa-answers li", has_text="to follow the subject")
    answer.wait_for(timeout=10_000)
    live_seconds = time.monotonic() - answered_at
    assert answer.locator("em").inner_text() == "pans"
    assert "Instructor" in answer.inner_text()

    # The question's timestamp seeks the video to 4 s.
    page.evaluate("() => { const v = window.lecternPlayer.video; v.pause(); v.currentTime = 12; }")
    page.wait_for_function("() => Math.abs(window.lecternPlayer.video.currentTime - 12) < 0.5")
    page.click("#qa-thread-question .qa__time")
    page.wait_for_function(
        f"() => {{ const v = window.lecternPlayer.video; return !v.seeking"
        f" && v.currentTime >= {ASKED_AT} && v.currentTime < {ASKED_AT} + 1.5; }}",
        timeout=10_000,
    )

    # A toxic question is held: its author sees it pending, the moderation queue has it.
    page.click("#qa-back")
    page.fill("#qa-title", "This is garbage")
    page.fill("#qa-body", TOXIC)
    page.uncheck("#qa-at-time")
    page.click("#qa-ask button[type=submit]")
    held = page.locator("#qa-list li", has_text="This is garbage")
    held.wait_for()
    assert held.locator(".qa__pending").inner_text() == "Pending review"
    assert "waiting for review" in page.inner_text("#qa-error")
    teacher.goto(f"{base}/dashboard/moderation/")
    row = teacher.locator("#moderation-queue tr", has_text="This is garbage")
    assert "Held" in row.inner_text()

    assert page.evaluate("window.__cspViolations") == []
    assert teacher.evaluate("window.__cspViolations") == []
    print(
        f"Q&A: answer shown live {live_seconds:.2f} s after the instructor posted it; "
        f"whole test {time.monotonic() - started:.1f} s"
    )
    student_context.close()
    teacher_context.close()

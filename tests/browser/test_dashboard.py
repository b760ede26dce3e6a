"""The instructor dashboard in a real browser: Debian's headless Chromium against uvicorn, a
Celery worker and FFmpeg (fixtures in ``tests/plugins/stack.py`` and ``tests/plugins/browser.py``).

An instructor logs in, creates a course, a section and a lecture, uploads the sample clip
(``media_pipeline.samples.sample_clip()``) through the Uppy widget over tus, watches the
lecture's processing progress arrive over the WebSocket up to 100 % without a reload, plays
the preview, generates access codes and downloads their CSV once. Every dashboard page is
saved as a screenshot; timings are printed and recorded as properties.
"""

import csv
import io
import time

import pytest

from tests.plugins.browser import save_screenshot

pytestmark = [pytest.mark.timeout(600), pytest.mark.django_db]

PASSWORD = "dashboard-pass-phrase-7"
READY_TIMEOUT_MS = 240_000
INSTRUCTOR_EMAIL = "teacher@e2e.test"


@pytest.fixture(scope="module")
def instructor(e2e_school, django_db_blocker):
    """An instructor account of the e2e school, committed (module scope: outside the test's
    transaction) so that the web server sees it."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import schema_context

    with django_db_blocker.unblock():
        with schema_context(e2e_school.schema_name):
            users = get_user_model().objects
            if not users.filter(email=INSTRUCTOR_EMAIL).exists():
                users.create_user(
                    email=INSTRUCTOR_EMAIL, password=PASSWORD, role="instructor", name="Tea Cher"
                )
        connection.set_schema_to_public()
    return INSTRUCTOR_EMAIL


def test_instructor_builds_course_uploads_and_generates_codes(
    web_server,
    celery_worker,
    e2e_school,
    instructor,
    chromium,
    artifacts_dir,
    record_property,
    tmp_path,
):
    from media_pipeline.samples import sample_clip

    base = f"http://{web_server.host(e2e_school.subdomain)}"
    started = time.monotonic()
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))

    # Anonymous -> the log-in page, then back to the dashboard.
    page.goto(f"{base}/dashboard/")
    page.wait_for_url(f"{base}/login/?next=/dashboard/")
    page.fill("#id_username", instructor)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")
    save_screenshot(page, artifacts_dir, "dashboard-courses-empty.png", full_page=True)

    # A course, a section and a lecture.
    page.click("text=New course")
    page.fill("#id_title", "Dashboard course")
    page.fill("#id_subtitle", "Made in the browser")
    page.fill("#id_price", "9.50")
    save_screenshot(page, artifacts_dir, "dashboard-course-new.png", full_page=True)
    page.click("main button[type=submit]")
    page.wait_for_selector("text=created as a draft")
    course_url = page.url
    course_id = course_url.rstrip("/").rsplit("/", 1)[1]
    page.fill("#new-section", "Chapter one")
    page.click("text=Add section")
    page.wait_for_selector(".sort-row__title:has-text('Chapter one')")
    page.fill("input[placeholder='New lecture title']", "Opening")
    page.click("text=Add lecture")
    page.wait_for_selector("li.lecture .sort-row__title:has-text('Opening')")
    page.wait_for_function("() => document.body.dataset.socket === 'open'", timeout=15_000)

    # Upload through Uppy; record every status the row shows, to prove it changes live.
    page.evaluate(
        """() => {
            window.noReloadMarker = true;
            window.seen = [];
            const row = document.querySelector('li.lecture');
            const record = () => window.seen.push([row.dataset.status,
                row.querySelector('[data-role=percent]').textContent]);
            new MutationObserver(record).observe(row, {subtree: true, childList: true,
                characterData: true, attributes: true, attributeFilter: ['data-status']});
        }"""
    )
    page.click("li.lecture summary")
    t_upload = time.monotonic()
    page.set_input_files("li.lecture .uppy-Dashboard-input >> nth=0", str(sample_clip()))
    page.wait_for_function(
        "() => document.querySelector('li.lecture').dataset.status === 'ready'",
        timeout=READY_TIMEOUT_MS,
    )
    ready_after = time.monotonic() - t_upload
    row = page.locator("li.lecture").first
    assert row.locator("[data-role=status-text]").inner_text() == "Ready"
    assert row.locator("[data-role=percent]").inner_text() == "100%"
    assert page.evaluate("() => window.noReloadMarker") is True
    seen = page.evaluate("() => window.seen")
    statuses = [status for status, _ in seen]
    assert "uploading" in statuses and "processing" in statuses, seen
    assert statuses.index("processing") < statuses.index("ready"), seen
    # Uppy's own progress reached 100 % as well.
    page.wait_for_selector("li.lecture .uppy-StatusBar.is-complete", state="attached")

    # The preview plays.
    page.wait_for_selector("li.lecture [data-role=preview] video")
    page.evaluate(
        "() => { const v = document.querySelector('li.lecture [data-role=preview] video');"
        " v.muted = true; v.play(); }"
    )
    page.wait_for_function(
        "() => document.querySelector('li.lecture [data-role=preview] video').currentTime > 1",
        timeout=30_000,
    )
    size = page.evaluate(
        "() => { const v = document.querySelector('li.lecture [data-role=preview] video');"
        " return [v.videoWidth, v.videoHeight]; }"
    )
    assert size[0] > 0 and size[1] > 0, size
    save_screenshot(page, artifacts_dir, "dashboard-course-edit.png", full_page=True)

    # A second lecture, dragged above the first by its handle (HTML5 drag and drop + fetch).
    page.fill("input[placeholder='New lecture title']", "Closing")
    page.click("text=Add lecture")
    page.wait_for_selector("li.lecture .sort-row__title:has-text('Closing')")
    titles = "() => [...document.querySelectorAll('li.lecture > .sort-row .sort-row__title')]"
    titles += ".map(e => e.textContent)"
    assert page.evaluate(titles) == ["Opening", "Closing"]
    with page.expect_response(lambda r: r.url.endswith("/reorder/")) as reorder:
        page.locator("li.lecture >> nth=1").locator(".sort-row__handle").drag_to(
            page.locator("li.lecture >> nth=0"), target_position={"x": 40, "y": 4}
        )
    assert reorder.value.status == 200
    page.reload()
    assert page.evaluate(titles) == ["Closing", "Opening"]
    # The keyboard path: the ↓ button of the first lecture puts it back.
    page.click("button[aria-label='Move lecture Closing down']")
    page.wait_for_load_state()
    assert page.evaluate(titles) == ["Opening", "Closing"]

    # Publish.
    page.click("main button:has-text('Publish')")
    page.wait_for_selector("#course-status:has-text('Published')")

    # Access codes: a batch of 5, downloaded once.
    page.click(".dash-nav a:has-text('Access codes')")
    page.wait_for_url(f"{base}/dashboard/courses/{course_id}/codes/")
    page.fill("#id_quantity", "5")
    page.click("main button:has-text('Generate codes')")
    page.wait_for_selector("#download-codes")
    save_screenshot(page, artifacts_dir, "dashboard-codes-created.png", full_page=True)
    with page.expect_download() as download_info:
        page.click("#download-codes")
    target = tmp_path / "codes.csv"
    download_info.value.save_as(target)
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows[0] == ["code", "course", "batch_id"] and len(rows) == 6
    assert all(len(row[0]) == 19 for row in rows[1:]), rows
    page.reload()
    assert page.locator("#download-codes").count() == 0
    assert "downloaded already" in page.content()
    page.goto(f"{base}/dashboard/courses/{course_id}/codes/")
    assert page.locator("tbody tr").count() == 5
    save_screenshot(page, artifacts_dir, "dashboard-codes.png", full_page=True)

    page.click(".dash-nav a:has-text('Students')")
    page.wait_for_url(f"{base}/dashboard/courses/{course_id}/students/")
    save_screenshot(page, artifacts_dir, "dashboard-students.png", full_page=True)
    page.goto(f"{base}/dashboard/")
    assert "Dashboard course" in page.content()
    save_screenshot(page, artifacts_dir, "dashboard-courses.png", full_page=True)
    context.close()

    # Branding is the owner's page.
    owner_context = chromium.new_context(viewport={"width": 1280, "height": 900})
    owner_page = owner_context.new_page()
    owner_page.goto(f"{base}/login/?next=/dashboard/branding/")
    owner_page.fill("#id_username", e2e_school.owner_email)
    owner_page.fill("#id_password", e2e_school.owner_password)
    owner_page.click("main button[type=submit]")
    owner_page.wait_for_url(f"{base}/dashboard/branding/")
    save_screenshot(owner_page, artifacts_dir, "dashboard-branding.png", full_page=True)
    owner_context.close()

    total = time.monotonic() - started
    errors = [line for line in console if line.startswith("error")]
    assert not errors, errors
    record_property("upload_to_ready_seconds", round(ready_after, 2))
    record_property("total_seconds", round(total, 2))
    print(f"upload to ready: {ready_after:.1f} s, whole test: {total:.1f} s")

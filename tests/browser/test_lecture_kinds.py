"""Article and presentation lectures in a real browser: a student reads slides that the real
worker converted (LibreOffice, pypdf, pdftoppm) through pdf.js (the canvas holds drawn pixels,
the page count shows, each page shown is stored as progress), reads an article to its end (the
lecture is completed) and downloads its attachment (Playwright's download event: file name and
bytes; the answer's headers exact). No script, style or worker is refused by the CSP."""

import secrets
import time

import pytest

from tests.browser.test_api_docs import VIOLATION_RECORDER

pytestmark = [pytest.mark.timeout(300), pytest.mark.django_db]

PASSWORD = "kinds-pass-phrase-4"
READY_TIMEOUT = 90.0
NOTES = b"Course notes\n" + b"line of notes\n" * 50
# Pixels of the canvas that are not white (pdf.js draws the page's text in black).
DRAWN_PIXELS = """() => {
  const canvas = document.getElementById("pdf-canvas");
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] < 200 || data[i + 1] < 200 || data[i + 2] < 200) drawn += 1;
  }
  return {drawn, width: canvas.width, height: canvas.height};
}"""


FETCHED = """async (url) => {
  const response = await fetch(url, {credentials: "same-origin"});
  const answer = {status: response.status, body: await response.text()};
  for (const name of ["content-type", "content-disposition", "x-content-type-options",
                      "cache-control"]) {
    answer[name] = response.headers.get(name);
  }
  return answer;
}"""


@pytest.fixture(scope="module")
def kinds_course(e2e_school, web_server, celery_worker, django_db_blocker, tmp_path_factory):
    """A published course of the session school: a presentation (3 slides of an ODP converted
    by the worker), an article with an attachment; an enrolled student."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django_tenants.utils import tenant_context

    from courses.services import attachment_create, course_create, lecture_create, section_create
    from enrollment.models import Enrollment
    from media_pipeline.models import MediaAsset
    from media_pipeline.uploads import upload_from_path
    from tenants.models import Tenant
    from tests.documents import odp_write

    slides = odp_write(tmp_path_factory.mktemp("kinds") / "slides.odp", ["One", "Two", "Three"])
    email = f"reader-{secrets.token_hex(3)}@kinds.test"
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(schema_name=e2e_school.schema_name)
        with tenant_context(tenant):
            User = get_user_model()
            owner = User.objects.get(email=e2e_school.owner_email)
            student = User.objects.create_user(email=email, password=PASSWORD, role="student")
            course = course_create(title="Reading course", published=True, created_by=owner)
            section = section_create(course=course, title="Read")
            presentation = lecture_create(section=section, title="Slides", kind="presentation")
            article = lecture_create(
                section=section,
                title="Notes",
                kind="article",
                body="# Notes\n\n" + "\n\n".join(f"Paragraph {n}." for n in range(60)),
            )
            attachment_create(
                lecture=article, file=SimpleUploadedFile("Course notes.txt", NOTES, "text/plain")
            )
            Enrollment.objects.create(student=student, course=course)
            upload_from_path(user=owner, lecture_id=presentation.id, path=slides)
            deadline = time.monotonic() + READY_TIMEOUT
            while True:
                asset = MediaAsset.objects.get(pk=presentation.document_id)
                if asset.status in ("ready", "failed"):
                    break
                assert time.monotonic() < deadline, "the slides were not converted in time"
                time.sleep(0.2)
            assert (asset.status, asset.page_count) == ("ready", 3), asset.error
        connection.set_schema_to_public()
    return {
        "base": f"http://{web_server.host(e2e_school.subdomain)}",
        "schema": e2e_school.schema_name,
        "course": str(course.id),
        "presentation": str(presentation.id),
        "article": str(article.id),
        "student": email,
    }


def _progress(schema: str, email: str, lecture_id: str, django_db_blocker):
    from django.db import connection
    from django_tenants.utils import schema_context

    from enrollment.models import LectureProgress

    with django_db_blocker.unblock(), schema_context(schema):
        row = LectureProgress.objects.filter(student__email=email, lecture_id=lecture_id).first()
        result = (row.completion, row.completed) if row else None
    connection.set_schema_to_public()
    return result


def test_student_reads_slides_and_an_article_and_downloads_the_notes(
    kinds_course, chromium, django_db_blocker
):
    base, course = kinds_course["base"], kinds_course["course"]
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.add_init_script(VIOLATION_RECORDER)
    page = context.new_page()
    page.goto(f"{base}/login/?next=/my/courses/")
    page.fill("#id_username", kinds_course["student"])
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/my/courses/")

    # Slides: pdf.js draws page 1, then page 2; each shown page is stored.
    started = time.monotonic()
    page.goto(f"{base}/courses/{course}/lectures/{kinds_course['presentation']}/")
    page.wait_for_function("() => window.lecternReader && window.lecternReader.rendered === 1")
    first_page_seconds = time.monotonic() - started
    drawn = page.evaluate(DRAWN_PIXELS)
    assert drawn["width"] > 0 and drawn["drawn"] > 100, drawn
    assert page.inner_text("#pdf-pages") == "3"
    page.click("#pdf-next")
    page.wait_for_function("() => window.lecternReader.rendered === 2")
    page.wait_for_function(
        "() => window.lecternReader.posted.length === 2"
        " && window.lecternReader.posted.every((p) => p.status === 200)"
    )
    assert page.inner_text("#pdf-page") == "2"
    assert page.evaluate("window.__cspViolations") == []
    assert _progress(
        kinds_course["schema"],
        kinds_course["student"],
        kinds_course["presentation"],
        django_db_blocker,
    ) == (66.67, False)

    # The article: reaching its end completes it.
    page.goto(f"{base}/courses/{course}/lectures/{kinds_course['article']}/")
    page.locator("#article-end").scroll_into_view_if_needed()
    page.wait_for_function(
        "() => window.lecternReader.posted.length === 1"
        " && window.lecternReader.posted[0].status === 200"
    )
    assert _progress(
        kinds_course["schema"],
        kinds_course["student"],
        kinds_course["article"],
        django_db_blocker,
    ) == (100.0, True)

    # The attachment downloads with its name and bytes, never shown inline.
    link = page.locator(".attachment-list a")
    with page.expect_download() as pending:
        link.click()
    download = pending.value
    assert download.suggested_filename == "Course notes.txt"
    with open(download.path(), "rb") as handle:
        assert handle.read() == NOTES
    # The same URL fetched in the page (Playwright's own request client would not resolve the
    # school's *.localhost host): its headers, exactly.
    answer = page.evaluate(FETCHED, link.get_attribute("href"))
    assert answer == {
        "status": 200,
        "content-type": "application/octet-stream",
        "content-disposition": "attachment; filename*=UTF-8''Course%20notes.txt",
        "x-content-type-options": "nosniff",
        "cache-control": "private, no-store",
        "body": NOTES.decode(),
    }
    assert page.evaluate("window.__cspViolations") == []
    print(f"first page drawn {first_page_seconds:.2f} s after navigation")
    context.close()

"""Course authoring in a real browser (Chromium against uvicorn, ``tests/plugins/stack.py``):
SortableJS drag and drop moves a lecture into another section and reorders the sections, the
keyboard's ↑ ↓ buttons still work, and every order is read back from the database."""

import pytest

pytestmark = [pytest.mark.timeout(120), pytest.mark.django_db]


@pytest.fixture(scope="module")
def outline(e2e_school, django_db_setup, django_db_blocker):
    """A committed course of the e2e school (module scope: outside the test's transaction, so
    the web server sees it): sections S1 (lectures a, b) and S2 (lecture c). Deleted again
    afterwards."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import schema_context

    from courses.services import course_create, course_delete, lecture_create, section_create

    with django_db_blocker.unblock(), schema_context(e2e_school.schema_name):
        owner = get_user_model().objects.get(email=e2e_school.owner_email)
        course = course_create(title="Drag course", created_by=owner)
        s1 = section_create(course=course, title="S1")
        s2 = section_create(course=course, title="S2")
        for section, titles in ((s1, "ab"), (s2, "c")):
            for title in titles:
                lecture_create(section=section, title=title)
    connection.set_schema_to_public()
    yield course
    with django_db_blocker.unblock(), schema_context(e2e_school.schema_name):
        course_delete(course=course)
    connection.set_schema_to_public()


def stored_order(e2e_school, django_db_blocker, course) -> list[tuple[str, list[tuple[str, int]]]]:
    from django.db import connection
    from django_tenants.utils import schema_context

    from courses.models import Section

    with django_db_blocker.unblock(), schema_context(e2e_school.schema_name):
        order = [
            (s.title, [(lec.title, lec.order) for lec in s.lectures.order_by("order")])
            for s in Section.objects.filter(course=course).order_by("order")
        ]
    connection.set_schema_to_public()
    return order


SHOWN = """() => [...document.querySelectorAll('li.section')].map(s => [
  s.querySelector(':scope > .sort-row .sort-row__title').textContent.trim(),
  [...s.querySelectorAll('li.lecture > .sort-row .sort-row__title')].map(e => e.textContent.trim()),
])"""


def test_drag_a_lecture_to_another_section_and_reorder(
    web_server, e2e_school, chromium, outline, django_db_blocker
):
    base = f"http://{web_server.host(e2e_school.subdomain)}"
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/login/?next=/dashboard/courses/{outline.pk}/")
    page.fill("#id_username", e2e_school.owner_email)
    page.fill("#id_password", e2e_school.owner_password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/courses/{outline.pk}/")
    assert page.evaluate(SHOWN) == [["S1", ["a", "b"]], ["S2", ["c"]]]

    # Lecture a, by its handle, onto the top half of lecture c: moved to S2, first.
    handle = "li.lecture:has(.sort-row__title:text-is('{}')) > .sort-row .sort-row__handle"
    row = "li.lecture:has(.sort-row__title:text-is('{}')) > .sort-row"
    with page.expect_response(lambda r: "/api/v1/lectures/" in r.url) as moved:
        page.drag_and_drop(handle.format("a"), row.format("c"), target_position={"x": 40, "y": 3})
    assert (moved.value.request.method, moved.value.status) == ("PATCH", 200)
    assert stored_order(e2e_school, django_db_blocker, outline) == [
        ("S1", [("b", 1)]),
        ("S2", [("a", 1), ("c", 2)]),
    ]

    # Section S2, by its handle, above S1: the course's sections are reordered.
    section_handle = (
        "li.section:has(> .sort-row .sort-row__title:text-is('{}')) > .sort-row .sort-row__handle"
    )
    section_row = "li.section:has(> .sort-row .sort-row__title:text-is('{}')) > .sort-row"
    with page.expect_response(lambda r: r.url.endswith("/reorder/")) as reordered:
        page.drag_and_drop(
            section_handle.format("S2"), section_row.format("S1"), target_position={"x": 40, "y": 3}
        )
    assert reordered.value.status == 200
    assert stored_order(e2e_school, django_db_blocker, outline) == [
        ("S2", [("a", 1), ("c", 2)]),
        ("S1", [("b", 1)]),
    ]

    # The keyboard path still works: lecture a one place down.
    page.click("button[aria-label='Move lecture a down']")
    page.wait_for_load_state()
    page.reload()
    assert page.evaluate(SHOWN) == [["S2", ["c", "a"]], ["S1", ["b"]]]
    assert stored_order(e2e_school, django_db_blocker, outline) == [
        ("S2", [("c", 1), ("a", 2)]),
        ("S1", [("b", 1)]),
    ]
    assert errors == []
    context.close()

"""The dashboard's CSV exports (students, a new batch of access codes) neutralise cells a
spreadsheet would run as a formula (OWASP, CSV Injection)."""

import csv
import io

import pytest

from courses.services import course_create
from enrollment.models import Enrollment
from tenants.testing import browser, in_tenant, make_user

pytestmark = pytest.mark.django_db

# A name or title a student or instructor may type, and what the CSV cell must hold instead.
FORMULAS = [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(1,2)", "'@SUM(1,2)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
]


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_students_csv_neutralises_formulas_in_names_and_emails(tenant):
    instructor = make_user(tenant, "teach@alpha.test", role="instructor")
    with in_tenant(tenant):
        course = course_create(title="Spreadsheets", published=True, created_by=instructor)
    for number, (name, _) in enumerate(FORMULAS):
        student = make_user(tenant, f"s{number}@alpha.test")
        with in_tenant(tenant):
            type(student).objects.filter(pk=student.pk).update(name=name)
            Enrollment.objects.create(student=student, course=course)
    plain = make_user(tenant, "-dash@alpha.test")
    with in_tenant(tenant):
        type(plain).objects.filter(pk=plain.pk).update(name="Ada Lovelace")
        Enrollment.objects.create(student=plain, course=course)

    response = browser(tenant, instructor).get(
        f"/dashboard/courses/{course.id}/students/export.csv"
    )

    rows = rows_of(response)
    assert response.status_code == 200
    assert rows[0] == ["email", "name", "status", "enrolled_at", "revoked_at", "progress"]
    by_email = {row[0]: row for row in rows[1:]}
    assert len(by_email) == len(FORMULAS) + 1
    for number, (_, safe) in enumerate(FORMULAS):
        assert by_email[f"s{number}@alpha.test"][1:3] == [safe, "active"]
        assert by_email[f"s{number}@alpha.test"][5] == "0.00"
    assert by_email["'-dash@alpha.test"][1] == "Ada Lovelace"


def test_access_code_csv_neutralises_a_formula_in_the_course_title(tenant):
    instructor = make_user(tenant, "teach@alpha.test", role="instructor")
    title = '=HYPERLINK("http://x","y")'
    with in_tenant(tenant):
        course = course_create(title=title, created_by=instructor)
    client = browser(tenant, instructor)
    created = client.post(f"/dashboard/courses/{course.id}/codes/", {"quantity": "2"})

    download = client.get(created["Location"] + "download")

    rows = rows_of(download)
    assert download.status_code == 200
    assert rows[0] == ["code", "course", "batch_id"]
    assert len(rows) == 3
    assert {row[1] for row in rows[1:]} == {'\'=HYPERLINK("http://x","y")'}
    assert all(len(row[0]) == 19 and row[0][4] == "-" for row in rows[1:])

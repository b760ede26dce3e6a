"""Teams in a real browser (Chromium) against uvicorn and a Celery worker whose mail goes to an
SMTP server of the test (``mail_stack`` and ``smtp_server`` of tests/test_mail_delivery.py):
an invited instructor accepts from the mailed link and sees only their own course; a class
roster uploaded on the students page enrols an existing student and invites a new address,
and the page shows both."""

import re
import secrets

import pytest
import requests

from tests.plugins.browser import save_screenshot
from tests.test_mail_delivery import mail_stack, smtp_server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.timeout(300), pytest.mark.django_db]

PASSWORD = "Teams-browser-pass-9"


def _api(server, host: str, token: str | None = None):
    session = requests.Session()
    session.headers["Host"] = host
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def _token(server, host: str, email: str, password: str) -> str:
    response = requests.post(
        server.base_url + "/api/v1/auth/token",
        json={"email": email, "password": password},
        headers={"Host": host},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


def _link_path(inbox, address: str, host: str) -> str:
    [received] = inbox.wait_for(address)
    text = received.message.get_body(("plain",)).get_content()
    link = re.search(r"https://\S+/invitations/[0-9a-f]{64}/", text).group(0)
    return link.removeprefix(f"https://{host}:8443")


def _login(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def test_an_invited_instructor_accepts_and_sees_only_their_courses(
    mail_stack,  # noqa: F811
    smtp_server,  # noqa: F811
    e2e_school,
    chromium,
    artifacts_dir,
):
    inbox, _ = smtp_server
    server = mail_stack
    host = f"{e2e_school.subdomain}.localhost"
    base = f"http://{host}:{server.port}"
    owner = _token(server, host, e2e_school.owner_email, e2e_school.owner_password)
    other = _api(server, host, owner).post(
        server.base_url + "/api/v1/courses", json={"title": f"Owner's {secrets.token_hex(3)}"}
    )
    assert other.status_code == 201, other.text
    invitee = f"invitee-{secrets.token_hex(4)}@e2e.test"
    invited = _api(server, host, owner).post(
        server.base_url + "/api/v1/school/invitations",
        json={"email": invitee, "role": "instructor"},
    )
    assert invited.status_code == 201, invited.text
    path = _link_path(inbox, invitee, host)

    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base + path)
    page.fill("#id_name", "Invited Teacher")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    save_screenshot(page, artifacts_dir, "teams-accept.png", full_page=True)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")
    assert other.json()["title"] not in page.content()
    response = page.goto(f"{base}/dashboard/courses/{other.json()['id']}/")
    assert response.status == 404
    again = page.goto(base + path)
    assert again.status == 410
    context.close()


def test_a_roster_enrols_a_student_and_invites_a_new_address(
    mail_stack,  # noqa: F811
    smtp_server,  # noqa: F811
    e2e_school,
    chromium,
    artifacts_dir,
    tmp_path,
):
    inbox, _ = smtp_server
    server = mail_stack
    host = f"{e2e_school.subdomain}.localhost"
    base = f"http://{host}:{server.port}"
    tag = secrets.token_hex(4)
    student = f"roster-student-{tag}@e2e.test"
    newcomer = f"roster-new-{tag}@e2e.test"
    registered = requests.post(
        server.base_url + "/api/v1/auth/register",
        json={"email": student, "password": PASSWORD, "name": "Roster Student"},
        headers={"Host": host},
        timeout=30,
    )
    assert registered.status_code == 201, registered.text
    owner = _token(server, host, e2e_school.owner_email, e2e_school.owner_password)
    course = _api(server, host, owner).post(
        server.base_url + "/api/v1/courses", json={"title": f"Roster {tag}"}
    )
    assert course.status_code == 201, course.text
    roster = tmp_path / "roster.csv"
    roster.write_text(f"email,name\n{student},S\n{newcomer},N\n", encoding="utf-8-sig")

    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, base, e2e_school.owner_email, e2e_school.owner_password)
    page.goto(f"{base}/dashboard/courses/{course.json()['id']}/students/")
    page.set_input_files("#roster-file", str(roster))
    page.click("#roster-form button[type=submit]")
    page.wait_for_selector("#roster-results")
    save_screenshot(page, artifacts_dir, "teams-roster-results.png", full_page=True)
    rows = page.eval_on_selector_all(
        "#roster-results tbody tr",
        "rows => rows.map(r => [r.cells[1].textContent.trim(), r.dataset.status])",
    )
    assert rows == [[student, "enrolled"], [newcomer, "invited"]]
    assert "1 enrolled, 1 invited" in page.inner_text("#roster-summary")
    [received] = inbox.wait_for(newcomer)
    # The parsed header of a folded non-ASCII subject starts with the folding space.
    assert (
        received.message["Subject"].strip() == f"You are invited to “Roster {tag}” at E2E Academy"
    )
    context.close()

"""Mail leaves Lectern's processes through EMAIL_URL and reaches a real SMTP server.

An aiosmtpd server started here on a free loopback port keeps every message it is given.
``manage.py sendtestemail`` under each settings module delivers to it when EMAIL_URL names
it (and prints to the console in development when it does not); a password reset asked for on
a real uvicorn server is mailed by a real Celery worker, and the link in that mail sets a new
password.
"""

import email
import email.policy
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller
from celery import Celery

from tenants.branding import brand_color
from tests.plugins.stack import _free_port, _stop_process_group, web_start, worker_start

ROOT = Path(__file__).resolve().parent.parent
DELIVERY_TIMEOUT = 60.0  # seconds for a queued reset mail to reach the sink


@dataclass(frozen=True)
class Received:
    """One message as the SMTP server got it."""

    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage


class Inbox:
    """aiosmtpd handler that keeps every message (the server runs in its own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Received] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self._messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [item for item in self._messages if address in item.rcpt_tos]

    def wait_for(
        self, address: str, timeout: float = DELIVERY_TIMEOUT, subject: str | None = None
    ) -> list[Received]:
        """The messages to ``address`` (with ``subject`` when given) once there is one."""
        deadline = time.monotonic() + timeout

        def matching() -> list[Received]:
            return [
                item
                for item in self.to(address)
                if subject is None or item.message["Subject"] == subject
            ]

        while not (found := matching()):
            assert time.monotonic() < deadline, f"no mail to {address} within {timeout} s"
            time.sleep(0.1)
        return found


@pytest.fixture(scope="module")
def smtp_server():
    """``(inbox, port)`` of an SMTP server on 127.0.0.1. aiosmtpd cannot be asked for port 0
    (it then cannot tell where to connect to check that it started), hence a free port first."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def sendtestemail(settings_module: str, recipient: str, email_url: str | None):
    env = {key: value for key, value in os.environ.items() if key != "EMAIL_URL"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": settings_module,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEFAULT_FROM_EMAIL": "school@lectern.test",
        }
    )
    if email_url is not None:
        env["EMAIL_URL"] = email_url
    return subprocess.run(
        [sys.executable, "manage.py", "sendtestemail", recipient],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "settings_module",
    ["config.settings.local", "config.settings.test", "config.settings.production"],
)
def test_every_settings_module_sends_through_email_url(smtp_server, settings_module):
    inbox, port = smtp_server
    recipient = f"ops-{secrets.token_hex(4)}@example.test"

    result = sendtestemail(settings_module, recipient, f"smtp://127.0.0.1:{port}")

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    [received] = inbox.wait_for(recipient, timeout=10)
    assert received.mail_from == "school@lectern.test"
    assert received.rcpt_tos == [recipient]
    assert received.message["Subject"].startswith("Test email from ")


def test_development_prints_mail_to_the_console_without_email_url(smtp_server):
    inbox, _ = smtp_server
    recipient = f"console-{secrets.token_hex(4)}@example.test"

    result = sendtestemail("config.settings.local", recipient, None)

    assert result.returncode == 0, result.stderr
    assert f"To: {recipient}" in result.stdout
    assert "Subject: Test email from " in result.stdout
    assert inbox.to(recipient) == []


@pytest.fixture(scope="module")
def mail_stack(e2e_env, e2e_school, e2e_logs, smtp_server):
    """uvicorn and a Celery worker whose mail goes to ``smtp_server``, with reset links on
    https port 8443; their broker keys have a prefix of their own, so no other test's worker
    takes their tasks. Returns the web server."""
    from django.conf import settings

    _, port = smtp_server
    key_prefix = f"mail-{secrets.token_hex(4)}:"
    env = {
        **e2e_env,
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
        "DEFAULT_FROM_EMAIL": "school@lectern.test",
        "PUBLIC_URL_SCHEME": "https",
        "PUBLIC_URL_PORT": "8443",
        "TEST_CELERY_KEY_PREFIX": key_prefix,
    }
    node = f"mail-{secrets.token_hex(4)}@{socket.gethostname()}"
    control = Celery("mail-ping", broker=settings.CELERY_BROKER_URL, set_as_current=False)
    control.conf.broker_transport_options = {"global_keyprefix": key_prefix}
    web, server = web_start(env, e2e_logs / "mail-uvicorn.log")
    worker = None
    try:
        worker = worker_start(env, e2e_logs / "mail-celery.log", node, control)
        yield server
    finally:
        control.close()
        if worker is not None:
            _stop_process_group(worker)
        _stop_process_group(web)
        import redis

        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        for key in client.scan_iter(match=f"{key_prefix}*"):
            client.delete(key)
        client.close()


def _form_post(session: requests.Session, server, path: str, data: dict) -> requests.Response:
    """GET the form at ``path`` (CSRF cookie and token), then POST ``data`` to it."""
    page = session.get(server.base_url + path, timeout=30)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(
        server.base_url + path,
        data={"csrfmiddlewaretoken": token, **data},
        allow_redirects=False,
        timeout=30,
    )


# The django_db mark makes pytest-django set up the test database (the school's) when this
# module runs alone; the test itself talks to the servers only.
@pytest.mark.django_db
def test_a_password_reset_is_mailed_by_the_worker_and_its_link_works(
    mail_stack, e2e_school, smtp_server
):
    inbox, _ = smtp_server
    server = mail_stack
    host = f"{e2e_school.subdomain}.localhost"
    # A student of its own (signed up through the server), so the school's owner keeps the
    # password the other end-to-end tests log in with; the school's schema is dropped at the
    # end of the session with it.
    student = f"reset-{secrets.token_hex(4)}@e2e.test"
    signed_up = requests.post(
        server.base_url + "/api/v1/auth/register",
        json={"email": student, "password": f"Before-{secrets.token_urlsafe(12)}", "name": "R"},
        headers={"Host": host},
        timeout=30,
    )
    assert signed_up.status_code == 201, signed_up.text

    answers = {}
    for address in ("nobody@e2e.test", student):
        browser = requests.Session()
        # A Host header with another case, a trailing dot and the server's port: the link
        # must still name the school's primary domain with the configured scheme and port.
        browser.headers["Host"] = f"{host.upper()}.:{server.port}"
        answer = _form_post(browser, server, "/password-reset/", {"email": address})
        answers[address] = (answer.status_code, answer.headers["Location"])

    assert answers == dict.fromkeys(answers, (302, "/password-reset/sent/"))
    [received] = inbox.wait_for(student, subject="Reset your E2E Academy password")
    assert inbox.to("nobody@e2e.test") == []
    message = received.message
    assert received.mail_from == "school@lectern.test"
    assert message["From"].addresses[0].display_name == "E2E Academy"
    assert message["From"].addresses[0].addr_spec == "school@lectern.test"
    # An essential mail: no unsubscribe.
    assert (message["List-Unsubscribe"], message["List-Unsubscribe-Post"]) == (None, None)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    links = re.findall(r"https?://\S+/password-reset/\S+/", text)
    assert len(links) == 1, text
    link = links[0]
    assert link.startswith(f"https://{host}:8443/password-reset/"), link
    assert f'href="{link}"' in html
    assert f'bgcolor="{brand_color(e2e_school)}"' in html
    assert "E2E Academy" in html and "E2E Academy" in text

    browser = requests.Session()
    browser.headers["Host"] = host
    path = link.removeprefix(f"https://{host}:8443")
    form = browser.get(server.base_url + path, allow_redirects=False, timeout=30)
    assert form.status_code == 302
    new_password = f"Mailed-{secrets.token_urlsafe(12)}"
    done = _form_post(
        browser,
        server,
        form.headers["Location"],
        {"new_password1": new_password, "new_password2": new_password},
    )
    assert (done.status_code, done.headers["Location"]) == (302, "/password-reset/done/")
    api = requests.post(
        server.base_url + "/api/v1/auth/token",
        json={"email": student, "password": new_password},
        headers={"Host": host},
        timeout=30,
    )
    assert api.status_code == 200


@pytest.mark.django_db
def test_a_sign_up_is_welcomed_by_the_worker_with_a_one_click_unsubscribe(
    mail_stack, e2e_school, smtp_server, django_db_blocker
):
    """A student signs up on the server: the worker mails a branded welcome in the school's
    name, with text and HTML parts, links to the catalogue and the student's courses, and the
    RFC 8058 headers whose token names the school, the account and the kind ``news``."""
    from django_tenants.utils import tenant_context

    from tenants.mail import unsubscribe_token_verify

    inbox, _ = smtp_server
    server = mail_stack
    host = f"{e2e_school.subdomain}.localhost"
    student = f"welcome-{secrets.token_hex(4)}@e2e.test"
    signed_up = requests.post(
        server.base_url + "/api/v1/auth/register",
        json={
            "email": student,
            "password": f"Welcome-{secrets.token_urlsafe(12)}",
            "name": "Ada <b>Lovelace</b>",
        },
        headers={"Host": host},
        timeout=30,
    )
    assert signed_up.status_code == 201, signed_up.text

    [received] = inbox.wait_for(student, subject="Welcome to E2E Academy")
    message = received.message
    assert received.mail_from == "school@lectern.test"
    assert str(message["From"]) == "E2E Academy <school@lectern.test>"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content()
    base = f"https://{host}:8443"
    assert "Welcome to E2E Academy, Ada <b>Lovelace</b>!" in text
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in html and "<b>Lovelace" not in html
    assert f"{base}/\n" in text and f"{base}/my/courses/\n" in text
    assert f'href="{base}/"' in html and f'href="{base}/my/courses/"' in html
    assert f'bgcolor="{brand_color(e2e_school)}"' in html

    # Folded onto its own line (the URL is long): unfolding leaves a leading space.
    header = str(message["List-Unsubscribe"]).strip()
    assert header.startswith(f"<{base}/unsubscribe/") and header.endswith("/>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = header[1:-1]
    assert f"Unsubscribe:\n{url}\n" in text
    assert f'href="{url}"' in html
    token = url.removeprefix(f"{base}/unsubscribe/").removesuffix("/")
    with django_db_blocker.unblock(), tenant_context(e2e_school):
        claim = unsubscribe_token_verify(token=token)
    assert (claim.user_id, claim.kind) == (signed_up.json()["id"], "news")

"""tenants.mail: every mail template compiles, user values stay text, the sender is the
school, and the one-click unsubscribe tokens and headers (RFC 8058)."""

import html as html_lib
from datetime import UTC, datetime
from email.utils import parseaddr
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core import signing
from django.db import connection
from django.utils.html import escape
from django_tenants.utils import tenant_context

from tenants.mail import (
    UNSUBSCRIBE_SALT,
    MailRenderError,
    Unsubscribe,
    UnsubscribeTokenInvalid,
    mail_build,
    mail_render,
    mail_sender,
    mjml_compile,
    unsubscribe_headers,
    unsubscribe_token,
    unsubscribe_token_verify,
    unsubscribe_url,
)
from tests.xss import XSS_CORPUS

ROOT = Path(__file__).resolve().parents[2]


def _user(name="Ada Lovelace", email="ada@alpha.test"):
    return SimpleNamespace(pk=41, name=name, email=email)


def _invitation(title="Physics", role="student"):
    return SimpleNamespace(role=role, course=SimpleNamespace(title=title))


# Every mail template (``<name>.mjml`` outside email/) with a context its service gives it.
MAIL_CONTEXTS = {
    "web/email/password_reset": lambda text: {
        "user": _user(name=text),
        "reset_url": "https://alpha.localhost/password-reset/MQ/set-password/",
    },
    "web/email/email_change": lambda text: {
        "user": _user(name=text),
        "new_email": "new@alpha.test",
        "confirm_url": "https://alpha.localhost/account/email/abc/",
    },
    "web/email/email_changed": lambda text: {"user": _user(name=text), "old_email": "o@a.test"},
    "web/email/welcome": lambda text: {
        "user": _user(name=text),
        "catalogue_url": "https://alpha.localhost/",
        "my_courses_url": "https://alpha.localhost/my/courses/",
    },
    "teams/email/invitation": lambda text: {
        "invitation": _invitation(title=text),
        "accept_url": "https://alpha.localhost/invitations/abc/",
        "expires_at": datetime(2030, 1, 2, 3, 4, tzinfo=UTC),
    },
    "notifications/email/notification": lambda text: {
        "user": _user(name=text),
        "title": f"Announcement: {text}",
        "body": text,
        "link": "https://alpha.localhost/my/",
        "preferences_url": "https://alpha.localhost/notifications/preferences/",
        "kind_label": "Course announcements",
    },
    "webhooks/email/endpoint_disabled": lambda text: {
        "endpoint": SimpleNamespace(url="https://hooks.alpha.test/in", disabled_reason=text),
        "endpoint_url": "https://alpha.localhost/dashboard/webhooks/1/",
    },
    "schools/email/signup_verify": lambda text: {
        "school": text,
        "verify_url": "https://lectern.localhost/signup/verify/abc/",
        "hours": 24,
    },
    "schools/email/owner_welcome": lambda text: {
        "user": _user(name=text),
        "password_url": "https://alpha.localhost/password-reset/MQ/set-password/",
        "dashboard_url": "https://alpha.localhost/dashboard/",
        "hours": 72,
    },
    "domains/email/domain_notice": lambda text: {
        "domain": SimpleNamespace(domain="learn.alpha.example", reason=text),
        "event": "drifted",
        "page_url": "https://alpha.localhost/dashboard/domains/",
    },
}


def test_every_mail_template_is_listed_here():
    found = {
        str(path.relative_to(ROOT / "templates").with_suffix(""))
        for path in (ROOT / "templates").rglob("*.mjml")
        if path.parent.name != "email" or path.parent.parent != ROOT / "templates"
    }
    assert found == set(MAIL_CONTEXTS)


@pytest.mark.parametrize("template", sorted(MAIL_CONTEXTS))
@pytest.mark.parametrize("logo", ["", "tenants/alpha/logo.png"])
def test_every_mail_template_compiles_with_the_school_branding(tenant, template, logo):
    tenant.logo = logo
    tenant.primary_color = "#0b7a75"
    with tenant_context(tenant):
        rendered = mail_render(template=template, context=MAIL_CONTEXTS[template]("Ada"))

    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.html.startswith("<!doctype html>")
    assert f"<title>{html_lib.escape(rendered.subject, quote=True)}</title>" in rendered.html
    assert 'bgcolor="#0b7a75"' in rendered.html
    assert "Alpha Academy" in rendered.html and "Alpha Academy" in rendered.text
    assert ("http://alpha.localhost:8000/dashboard/logo" in rendered.html) == bool(logo)
    assert "Unsubscribe" not in rendered.html and "nsubscribe" not in rendered.text
    assert "{{" not in rendered.text and "{%" not in rendered.text
    assert "fonts.googleapis.com" not in rendered.html


def test_mjml_errors_surface():
    with pytest.raises(MailRenderError, match=r"broken\.mjml: "):
        mjml_compile("<mjml><mj-body><mj-section>", template="broken.mjml")
    with pytest.raises(MailRenderError, match="unknown MJML element <mj-buton>"):
        mjml_compile(
            "<mjml><mj-body><mj-section><mj-column><mj-buton>x</mj-buton>"
            "</mj-column></mj-section></mj-body></mjml>",
            template="typo.mjml",
        )


class _Shape(HTMLParser):
    """The elements and attribute names of a document, in order, and its attribute values
    apart from those that carry text (alt, title, aria-label, href)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.shape: list = []

    def handle_starttag(self, tag, attrs):
        self.shape.append((tag, tuple(name for name, _ in attrs)))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        self.shape.append(("/", tag))


def _shape(html: str) -> list:
    parser = _Shape()
    parser.feed(html)
    parser.close()
    return parser.shape


def test_user_values_stay_text_in_every_part(tenant):
    """The school's name, a student's name and a course title from the XSS corpus: the HTML
    part has exactly the elements and attributes of the same mail with plain words, and holds
    each value escaped; the text part holds it as it is."""
    with tenant_context(tenant):
        for template in (
            "web/email/welcome",
            "teams/email/invitation",
            "notifications/email/notification",
        ):
            tenant.name = "Alpha Academy"
            plain = mail_render(template=template, context=MAIL_CONTEXTS[template]("Plain"))
            for payload in XSS_CORPUS:
                tenant.name = payload.replace("\n", " ")
                rendered = mail_render(template=template, context=MAIL_CONTEXTS[template](payload))
                assert _shape(rendered.html) == _shape(plain.html), (template, payload)
                assert escape(payload) in rendered.html, payload
                assert payload in rendered.text


def test_the_sender_is_the_school_at_the_platform_address(tenant):
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    school = SimpleNamespace(name='Ölfa "Academy",\nInc.')

    sender = mail_sender(school)

    assert "\n" not in sender
    assert sender.startswith("=?utf-8?")
    tenant.name = 'Alpha "A", Inc.'
    assert mail_sender(tenant) == f'"Alpha \\"A\\", Inc." <{address}>'
    with tenant_context(tenant):
        message = mail_build(
            to="ada@alpha.test",
            template="web/email/email_changed",
            context=MAIL_CONTEXTS["web/email/email_changed"]("Ada"),
            reply_to="office@alpha.test",
        ).message()
    assert parseaddr(str(message["From"])) == ('Alpha "A", Inc.', address)
    assert message["Reply-To"] == "office@alpha.test"
    assert message["List-Unsubscribe"] is None


def test_unsubscribe_token_round_trip_and_refusals(tenant, other_tenant):
    with tenant_context(tenant):
        token = unsubscribe_token(user_id=41, kind="news")
        claim = unsubscribe_token_verify(token=token)
        assert (claim.user_id, claim.kind) == (41, "news")
        assert "/" not in token
        assert unsubscribe_token(user_id=41, kind="digest") != token

        tampered = [
            token[:-1] + ("A" if token[-1] != "A" else "B"),
            token.replace(token.split(":")[0], token.split(":")[0][::-1]),
            "",
            "not-a-token",
            # Another salt (an e-mail change link's value) with the same payload.
            signing.dumps(
                {"s": tenant.schema_name, "u": 41, "k": "news"},
                salt="enrollment.services.email_change",
                compress=True,
            ),
            # Signed right, but not the shape of a claim.
            signing.dumps({"s": tenant.schema_name, "u": "41", "k": "news"}, salt=UNSUBSCRIBE_SALT),
            signing.dumps(["alpha", 41, "news"], salt=UNSUBSCRIBE_SALT),
        ]
        for value in tampered:
            with pytest.raises(UnsubscribeTokenInvalid) as refused:
                unsubscribe_token_verify(token=value)
            assert (refused.value.status, refused.value.code) == (400, "INVALID_TOKEN")

        # Another kind: the token names its own kind, and a per-kind check refuses it.
        assert unsubscribe_token_verify(token=token, kind="news").kind == "news"
        with pytest.raises(UnsubscribeTokenInvalid):
            unsubscribe_token_verify(token=token, kind="digest")
        with pytest.raises(ValueError, match="not a mail kind"):
            unsubscribe_token(user_id=41, kind="News letter")

    # The same token in another school: refused like a forged one.
    with tenant_context(other_tenant):
        with pytest.raises(UnsubscribeTokenInvalid):
            unsubscribe_token_verify(token=token)
        other = unsubscribe_token(user_id=41, kind="news")
    assert other != token
    connection.set_schema_to_public()


def test_a_non_essential_mail_carries_the_one_click_headers_and_footer_link(tenant):
    with tenant_context(tenant):
        url = unsubscribe_url(tenant=tenant, user_id=41, kind="news")
        message = mail_build(
            to="ada@alpha.test",
            template="web/email/welcome",
            context=MAIL_CONTEXTS["web/email/welcome"]("Ada"),
            unsubscribe=Unsubscribe(user_id=41, kind="news"),
        )
        token = url.removeprefix("http://alpha.localhost:8000/unsubscribe/").removesuffix("/")
        claim = unsubscribe_token_verify(token=token)

    assert url.startswith("http://alpha.localhost:8000/unsubscribe/")
    assert (claim.user_id, claim.kind) == (41, "news")
    assert unsubscribe_headers(url=url) == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    parsed = message.message()
    assert parsed["List-Unsubscribe"] == f"<{url}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"Unsubscribe:\n{url}\n" in message.body
    html = message.alternatives[0][0]
    assert f'href="{html_lib.escape(url)}"' in html

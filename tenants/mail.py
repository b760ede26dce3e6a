"""Every e-mail a school sends: branded, HTML made with MJML plus a plain-text part, in the
school's name, and the one-click unsubscribe plumbing of non-essential mail (RFC 8058).

A mail is a Django template set under one name, for example ``enrollment/email/welcome``:

- ``<name>_subject.txt``: the subject (one line once rendered; line breaks are dropped);
- ``<name>.mjml``: the HTML part, an MJML document that extends ``email/base.mjml`` (the
  school's name, logo and colour, the footer and, for non-essential mail, the unsubscribe link)
  and fills its ``content`` block; compiled to HTML by ``mjml-python`` (MRML, the Rust port of
  MJML);
- ``<name>.txt``: the plain-text part, which extends ``email/base.txt`` and fills ``content``.

Values in the MJML template are autoescaped by Django like any HTML template, and MJML keeps
entities as they are, so a course title or a name never becomes markup. The text templates
turn autoescaping off (``{% autoescape off %}`` in ``email/base.txt``): plain text is not HTML.

The branding context (``mail_branding``) is added to every render: ``school_name``,
``brand_color`` (``tenants.branding.brand_color``), ``brand_text_color`` (white or black on
it), ``brand_ink`` (the colour darkened until it reads on white, for links), ``logo_url`` (the
school's logo, ``/dashboard/logo`` on its primary domain, or ``""``) and ``home_url``.

Mail is sent by Celery tasks (``enrollment.tasks.MAIL_TASK_OPTIONS``: retries with backoff on
SMTP errors), never while a request waits. The sender is ``"<school name>" <address of
DEFAULT_FROM_EMAIL>`` (``email.utils.formataddr``, RFC 2047-encoded when the name is not
ASCII), so the envelope sender stays the platform's.

Unsubscribe (RFC 8058, "Signaling One-Click Functionality for List Email Headers"): a
non-essential mail (a welcome, news; never a password reset, an e-mail change or an invitation,
which the recipient asked for or needs) carries ``List-Unsubscribe: <https://<school>/
unsubscribe/<token>/>`` and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` and a footer
link to the same address. The token is signed (``django.core.signing``, SECRET_KEY, salt
``UNSUBSCRIBE_SALT``) and binds the school's schema, the account and the kind of mail; it does
not expire (RFC 8058 section 3.1 asks that the link keep working). The page and the endpoint
behind ``/unsubscribe/<token>/`` belong to the app that keeps the preferences; they verify the
token with ``unsubscribe_token_verify``.
"""

import re
from dataclasses import dataclass
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from mjml import mjml2html

from tenants.branding import brand_color, ink_on_page, text_on
from tenants.errors import ApplicationError
from tenants.links import tenant_url

__all__ = [
    "UNSUBSCRIBE_PATH",
    "UNSUBSCRIBE_SALT",
    "MailRenderError",
    "RenderedMail",
    "Unsubscribe",
    "UnsubscribeClaim",
    "UnsubscribeTokenInvalid",
    "mail_branding",
    "mail_build",
    "mail_render",
    "mail_send",
    "mail_sender",
    "mjml_compile",
    "unsubscribe_headers",
    "unsubscribe_token",
    "unsubscribe_token_verify",
    "unsubscribe_url",
]

UNSUBSCRIBE_SALT = "tenants.mail.unsubscribe"
UNSUBSCRIBE_PATH = "/unsubscribe/{token}/"
"""Path of the one-click unsubscribe link on the school's primary domain."""

_KIND = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
# An element MRML does not know is copied to the output as it is; such a tag in the HTML means
# a misspelt component.
_LEFTOVER_MJML = re.compile(r"<mj-[a-z-]+")


class MailRenderError(Exception):
    """An MJML template did not compile (malformed markup or an unknown ``mj-`` component);
    the message names the template."""


@dataclass(frozen=True)
class RenderedMail:
    """A rendered mail: ``subject`` (one line), ``text`` (plain-text part), ``html`` (the
    compiled MJML, a complete HTML document)."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Unsubscribe:
    """Marks a mail non-essential: the account ``user_id`` of the current school may stop
    mails of ``kind`` (a lower-case slug such as ``news``) with one click."""

    user_id: int
    kind: str


@dataclass(frozen=True)
class UnsubscribeClaim:
    """What a valid unsubscribe token says: account ``user_id`` of the current school wants
    no more mails of ``kind``."""

    user_id: int
    kind: str


class UnsubscribeTokenInvalid(ApplicationError):
    """An unsubscribe token that was altered, is not a token, or is another school's:
    400 ``INVALID_TOKEN`` (the same as the e-mail change link's)."""

    code = "INVALID_TOKEN"
    status = 400

    def __init__(self) -> None:
        super().__init__("This link is not valid.", code=self.code, status=self.status)


# --- Branding and sender ------------------------------------------------------------------------


def mail_branding(tenant) -> dict:
    """The branding context of ``tenant``'s mails (keys in the module docstring). Two queries
    (the primary domain, for ``home_url`` and ``logo_url``). Raises ``Domain.DoesNotExist``
    for a school without a primary domain."""
    color = brand_color(tenant)
    home_url = tenant_url(tenant, reverse("tenant-home", urlconf=settings.ROOT_URLCONF))
    return {
        "school_name": tenant.name,
        "brand_color": color,
        "brand_text_color": text_on(color),
        "brand_ink": ink_on_page(color, "#ffffff"),
        "logo_url": (
            tenant_url(tenant, reverse("dashboard-logo", urlconf=settings.ROOT_URLCONF))
            if tenant.logo
            else ""
        ),
        "home_url": home_url,
    }


def mail_sender(tenant) -> str:
    """``"<school name>" <address>``: the address of DEFAULT_FROM_EMAIL (its own display name,
    if any, replaced) with the school's name, whitespace runs (line breaks too) collapsed to one
    space, quoted or RFC 2047-encoded by ``email.utils.formataddr``."""
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    name = " ".join(str(tenant.name).split())
    return formataddr((name, address or settings.DEFAULT_FROM_EMAIL))


# --- Rendering ----------------------------------------------------------------------------------


def mjml_compile(source: str, *, template: str) -> str:
    """HTML of the MJML document ``source`` (rendered from ``template``). Raises
    ``MailRenderError`` when MRML rejects it or leaves an ``mj-`` element it does not know."""
    try:
        html = mjml2html(source, disable_comments=True, fonts={})
    except ValueError as exc:
        raise MailRenderError(f"{template}: {exc}") from exc
    leftover = _LEFTOVER_MJML.search(html)
    if leftover:
        raise MailRenderError(f"{template}: unknown MJML element {leftover.group(0)}>")
    return html


def mail_render(
    *, template: str, context: dict, tenant=None, unsubscribe_link: str = ""
) -> RenderedMail:
    """Render the mail ``template`` (a name without suffix, see the module docstring) for
    ``tenant`` (default: the current school, ``connection.tenant``) with ``context`` plus the
    branding context and ``unsubscribe_link`` (an absolute URL, or ``""`` for essential mail:
    no footer link). Raises ``MailRenderError`` (MJML) and ``TemplateDoesNotExist``."""
    tenant = tenant if tenant is not None else connection.tenant
    full = {**mail_branding(tenant), **context, "unsubscribe_link": unsubscribe_link}
    subject = " ".join(render_to_string(f"{template}_subject.txt", full).split())
    full["subject"] = subject
    text = render_to_string(f"{template}.txt", full).strip() + "\n"
    html = mjml_compile(render_to_string(f"{template}.mjml", full), template=f"{template}.mjml")
    return RenderedMail(subject=subject, text=text, html=html)


def mail_build(
    *,
    to: str,
    template: str,
    context: dict,
    unsubscribe: Unsubscribe | None = None,
    reply_to: str | None = None,
    tenant=None,
) -> EmailMultiAlternatives:
    """The message of ``template`` (``mail_render``) to the address ``to``, from
    ``mail_sender``, text part first, HTML alternative; with ``unsubscribe`` (non-essential
    mail) the RFC 8058 headers and the footer link; ``reply_to`` an optional address.
    ``tenant`` defaults to the current school."""
    tenant = tenant if tenant is not None else connection.tenant
    headers = {}
    link = ""
    if unsubscribe is not None:
        link = unsubscribe_url(tenant=tenant, user_id=unsubscribe.user_id, kind=unsubscribe.kind)
        headers = unsubscribe_headers(url=link)
    rendered = mail_render(template=template, context=context, tenant=tenant, unsubscribe_link=link)
    message = EmailMultiAlternatives(
        rendered.subject,
        rendered.text,
        from_email=mail_sender(tenant),
        to=[to],
        reply_to=[reply_to] if reply_to else None,
        headers=headers,
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def mail_send(
    *,
    to: str,
    template: str,
    context: dict,
    unsubscribe: Unsubscribe | None = None,
    reply_to: str | None = None,
) -> None:
    """Build (``mail_build``) and send one mail of the current school. Call from a Celery
    task only. Raises what the e-mail backend raises (``smtplib.SMTPException``,
    ``OSError``), which the mail tasks retry."""
    mail_build(
        to=to, template=template, context=context, unsubscribe=unsubscribe, reply_to=reply_to
    ).send()


# --- One-click unsubscribe (RFC 8058) -----------------------------------------------------------


def _kind_check(kind: str) -> str:
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise ValueError(f"not a mail kind (lower-case slug, at most 50 characters): {kind!r}")
    return kind


def unsubscribe_token(*, user_id: int, kind: str, schema_name: str | None = None) -> str:
    """The signed token of an unsubscribe link: school ``schema_name`` (default: the current
    one), account ``user_id`` and mail ``kind`` (a lower-case slug, else ``ValueError``).
    URL-safe (base64 and ``:``), no ``/``; it does not expire."""
    payload = {
        "s": schema_name or connection.schema_name,
        "u": int(user_id),
        "k": _kind_check(kind),
    }
    return signing.dumps(payload, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_token_verify(*, token: str, kind: str | None = None) -> UnsubscribeClaim:
    """The claim of ``token`` when it is intact, of the current school and, when ``kind`` is
    given, of that kind of mail. Raises ``UnsubscribeTokenInvalid`` (400 ``INVALID_TOKEN``)
    for a tampered or malformed token, one signed with another salt, one of another school or
    of another kind. Does not check that the account still exists."""
    try:
        payload = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature as exc:
        raise UnsubscribeTokenInvalid() from exc
    if not isinstance(payload, dict) or payload.get("s") != connection.schema_name:
        raise UnsubscribeTokenInvalid()
    user_id, claimed = payload.get("u"), payload.get("k")
    if not isinstance(user_id, int) or not isinstance(claimed, str) or not _KIND.match(claimed):
        raise UnsubscribeTokenInvalid()
    if kind is not None and claimed != kind:
        raise UnsubscribeTokenInvalid()
    return UnsubscribeClaim(user_id=user_id, kind=claimed)


def unsubscribe_url(*, tenant, user_id: int, kind: str) -> str:
    """``https://<school's primary domain>/unsubscribe/<token>/`` (``tenants.links.tenant_url``:
    PUBLIC_URL_SCHEME and PUBLIC_URL_PORT) for account ``user_id`` of ``tenant`` and ``kind``."""
    token = unsubscribe_token(user_id=user_id, kind=kind, schema_name=tenant.schema_name)
    return tenant_url(tenant, UNSUBSCRIBE_PATH.format(token=token))


def unsubscribe_headers(*, url: str) -> dict[str, str]:
    """The RFC 8058 headers of a non-essential mail whose one-click link is ``url``:
    ``List-Unsubscribe: <url>`` and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
    (the receiving mail system then POSTs ``List-Unsubscribe=One-Click`` to ``url``)."""
    return {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }

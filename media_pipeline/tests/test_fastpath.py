"""The segment fast path (``media_pipeline.fastpath``) through Lectern's real ASGI application.

Every request is made twice on ``config.asgi.application``, once with MEDIA_FAST_PATH on and once
off (the Django view alone), and the two answers must be identical: status, every header (but
the request id and the date) and every byte. Django's ``request_started`` signal tells which of
the two answered: the fast path never starts a Django request. The lecture files are written
straight into the test storage, like ``test_tokens.py`` (whose fixture and token mutations are
reused).
"""

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings

from media_pipeline.tests import test_tokens
from media_pipeline.tests.test_tokens import S3_STORAGES, SEGMENT, forge, mutations
from tenants.middleware import tenant_host_cache_clear
from tenants.storage import lecture_version_prefix

pytestmark = pytest.mark.django_db

# test_tokens.py's fixtures: ``media`` and the autouse host cache reset.
media = test_tokens.media
_fresh_host_cache = test_tokens._fresh_host_cache

CAPTIONS = b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<b>&lt;script&gt;</b>\n"
STORED = ("240p/seg_00000.ts", "poster.jpg", "poster.webp", "storyboard.jpg", "preview.mp4")
IGNORED_HEADERS = {b"date", b"x-request-id", b"server"}
RANGES = ("bytes=100-299", "bytes=-40", "bytes=10000-", "bytes=0-0", "bytes=5-2000000", "x")


@dataclass
class Answer:
    """One ASGI answer: status, headers (lower-case names, in order), body, and whether Django
    started a request for it."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    django: bool

    def header(self, name: str) -> str | None:
        values = [v.decode() for k, v in self.headers if k.lower() == name.encode()]
        return values[-1] if values else None

    def comparable(self) -> tuple:
        """Status, headers (names in lower case, sorted) and body, without the request id and
        the date (the request id also in an error body)."""
        headers = sorted(
            (k.lower(), v) for k, v in self.headers if k.lower() not in IGNORED_HEADERS
        )
        request_id = (self.header("x-request-id") or "").encode()
        body = self.body.replace(request_id, b"<id>") if request_id else self.body
        return self.status, headers, body


def asgi(path: str, *, host: str, method: str = "GET", headers=(), scheme: str = "http"):
    """``method path`` on ``config.asgi.application`` with the Host header ``host``."""
    from config.asgi import application

    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", host.encode()), *((k.encode(), v.encode()) for k, v in headers)],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
    sent = []
    started = []

    def on_start(**_kwargs):
        started.append(True)

    requested = []

    async def receive():
        if not requested:
            requested.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Future()  # no disconnect: Django cancels this wait when it has answered

    async def send(message):
        sent.append(message)

    # As Django's test clients do: a request must not close the test's connection (its
    # transaction holds the test's rows).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    request_started.connect(on_start)
    try:
        async_to_sync(application)(scope, receive, send)
    finally:
        request_started.disconnect(on_start)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(start["status"], list(start["headers"]), body, bool(started))


def both(path: str, *, host: str, **kwargs) -> tuple[Answer, Answer]:
    """The answer of the fast path and of the Django view alone to the same request."""
    with override_settings(MEDIA_FAST_PATH=True):
        fast = asgi(path, host=host, **kwargs)
    with override_settings(MEDIA_FAST_PATH=False):
        view = asgi(path, host=host, **kwargs)
    assert view.django
    return fast, view


def host_of(media) -> str:
    return media.tenant.domains.get(is_primary=True).domain


@pytest.fixture
def captions(media):
    """An English caption track in media version 2 of the lecture."""
    prefix = lecture_version_prefix(media.tenant.schema_name, media.lecture_id, 2)
    default_storage.save(f"{prefix}/hls/captions/en.vtt", ContentFile(CAPTIONS))
    return "captions/en.vtt"


@override_settings(TENANT_HOST_CACHE_SECONDS=5)
def test_stored_files_and_ranges_answer_exactly_as_the_view(media, captions):
    host = host_of(media)
    token = media.sign()
    requests = [(name, ()) for name in (*STORED, captions)]
    requests += [("240p/seg_00000.ts", (("range", value),)) for value in RANGES]
    requests += [("preview.mp4", (("range", "bytes=4-7"),))]

    for name, headers in requests:
        fast, view = both(media.url(name, token=token), host=host, headers=headers)
        assert not fast.django, (name, headers)
        assert fast.comparable() == view.comparable(), (name, headers)

    part, _ = both(media.url(STORED[0], token=token), host=host, headers=[("range", "bytes=-40")])
    whole, _ = both(media.url(STORED[0], token=token), host=host)
    vtt, _ = both(media.url(captions, token=token), host=host)
    assert (part.status, part.body, part.header("content-range")) == (
        206,
        SEGMENT[-40:],
        f"bytes {len(SEGMENT) - 40}-{len(SEGMENT) - 1}/{len(SEGMENT)}",
    )
    assert (whole.status, whole.body, whole.header("content-type")) == (200, SEGMENT, "video/mp2t")
    assert whole.header("cache-control") == "private, no-store"
    assert (vtt.body, vtt.header("content-type")) == (CAPTIONS, "text/vtt; charset=utf-8")
    assert vtt.header("x-content-type-options") == "nosniff"


@override_settings(TENANT_HOST_CACHE_SECONDS=5)
def test_head_sends_the_headers_of_get_and_no_body(media):
    host = host_of(media)
    url = media.url(STORED[0])

    fast, view = both(url, host=host, method="HEAD")
    get, _ = both(url, host=host)

    # The ASGI server drops the body Django gives to a HEAD (uvicorn does), so only the
    # status and the headers are compared.
    assert not fast.django
    assert fast.comparable()[:2] == view.comparable()[:2]
    assert (fast.status, fast.body, fast.header("content-length")) == (200, b"", str(len(SEGMENT)))
    assert [k for k, _ in fast.headers] == [k for k, _ in get.headers]


@override_settings(TENANT_HOST_CACHE_SECONDS=5)
def test_what_needs_django_is_left_to_it_with_the_same_answer(media):
    host = host_of(media)
    token = media.sign()
    cases = {
        "master playlist": (media.url("master.m3u8", token=token), {}),
        "variant playlist": (media.url("240p/index.m3u8", token=token), {}),
        "storyboard index": (media.url("storyboard.vtt", token=token), {}),
        "forged token": (media.url(STORED[0], token=forge(token)), {}),
        "no token": (f"/media/hls/{media.lecture_id}/v2/{STORED[0]}", {}),
        "empty token": (media.url(STORED[0], token=""), {}),
        "expired token": (media.url(STORED[0], token=media.sign(expires=int(time.time()) - 1)), {}),
        "other version": (media.url(STORED[0], token=token, version=1), {}),
        "other lecture": (media.url(STORED[0], token=token, lecture_id=media.other_lecture_id), {}),
        "missing file": (media.url("240p/seg_00009.ts", token=token), {}),
        "unknown name": (media.url("240p/seg_1.mp4", token=token), {}),
        "traversal": (media.url("../v1/240p/seg_00000.ts", token=token), {}),
        "unsatisfiable": (media.url(STORED[0], token=token), {"range": f"bytes={len(SEGMENT)}-"}),
        "post": (media.url(STORED[0], token=token), {"method": "POST"}),
        "unknown host": (media.url(STORED[0], token=token), {"host": "nowhere.localhost"}),
    }
    answers = {}
    for label, (url, options) in cases.items():
        options = dict(options)
        headers = [("range", options.pop("range"))] if "range" in options else []
        fast, view = both(url, host=options.pop("host", host), headers=headers, **options)
        assert fast.django, label
        assert fast.comparable() == view.comparable(), label
        answers[label] = fast.status

    assert answers == {
        "master playlist": 200,
        "variant playlist": 200,
        "storyboard index": 200,
        "forged token": 403,
        "no token": 403,
        "empty token": 403,
        "expired token": 403,
        "other version": 403,
        "other lecture": 403,
        "missing file": 404,
        "unknown name": 404,
        "traversal": 404,
        "unsatisfiable": 416,
        "post": 403,  # CSRF refuses a POST without its token before the view
        "unknown host": 404,
    }


@override_settings(TENANT_HOST_CACHE_SECONDS=5)
def test_every_token_mutation_is_refused_by_the_view(media):
    host = host_of(media)
    token = media.sign()

    statuses = {}
    for label, mutated in mutations(token).items():
        with override_settings(MEDIA_FAST_PATH=True):
            answer = asgi(media.url(STORED[0], token=mutated), host=host)
        statuses[label] = (answer.status, answer.django)

    assert statuses == dict.fromkeys(mutations(token), (403, True))


@override_settings(TENANT_HOST_CACHE_SECONDS=5)
def test_another_schools_host_refuses_the_token(media, other_tenant):
    other_host = other_tenant.domains.get(is_primary=True).domain
    url = media.url(STORED[0])

    fast, view = both(url, host=other_host)

    assert (fast.status, fast.django) == (403, True)
    assert fast.comparable() == view.comparable()


@override_settings(TENANT_HOST_CACHE_SECONDS=5)
def test_a_suspended_school_is_left_to_django(media):
    host = host_of(media)
    url = media.url(STORED[0])
    assert not asgi(url, host=host).django  # cached as active
    media.tenant.status = "suspended"
    media.tenant.save(update_fields=["status"])  # clears this process's host cache

    fast, view = both(url, host=host)

    assert (fast.status, fast.django) == (404, True)
    assert fast.comparable() == view.comparable()


@override_settings(TENANT_HOST_CACHE_SECONDS=5)
def test_cached_hosts_cost_no_query(media, django_assert_num_queries):
    host = host_of(media)
    token = media.sign()
    with django_assert_num_queries(2):  # the Domain lookup, in the public schema, then cached
        first = asgi(media.url(STORED[0], token=token), host=host)

    with django_assert_num_queries(0):
        answers = [asgi(media.url(name, token=token), host=host) for name in STORED]

    assert (first.status, first.django) == (200, False)
    assert [(a.status, a.django) for a in answers] == [(200, False)] * len(STORED)


@override_settings(TENANT_HOST_CACHE_SECONDS=0)
def test_without_the_host_cache_each_request_makes_the_lookup(media, django_assert_num_queries):
    host = host_of(media)
    tenant_host_cache_clear()

    with django_assert_num_queries(2):
        answer = asgi(media.url(STORED[0]), host=host)

    assert (answer.status, answer.body, answer.django) == (200, SEGMENT, False)


@override_settings(TENANT_HOST_CACHE_SECONDS=5, MEDIA_ACCEL_REDIRECT="/_lectern_media/")
def test_behind_nginx_the_answer_is_an_accel_redirect(media):
    host = host_of(media)
    prefix = lecture_version_prefix(media.tenant.schema_name, media.lecture_id, 2)

    answer = asgi(media.url(STORED[0]), host=host, headers=[("range", "bytes=0-9")])
    head = asgi(media.url("preview.mp4"), host=host, method="HEAD")
    refused = asgi(media.url(STORED[0], token=forge(media.sign())), host=host)

    assert (answer.status, answer.body, answer.django) == (200, b"", False)
    assert answer.header("x-accel-redirect") == f"/_lectern_media/{prefix}/hls/240p/seg_00000.ts"
    assert answer.header("content-type") == "video/mp2t"
    assert answer.header("cache-control") == "private, no-store"
    assert answer.header("content-range") is None  # nginx answers the range from the file
    assert head.header("x-accel-redirect") == f"/_lectern_media/{prefix}/hls/preview.mp4"
    assert (refused.status, refused.header("x-accel-redirect")) == (403, None)


@override_settings(TENANT_HOST_CACHE_SECONDS=5, STORAGES=S3_STORAGES)
def test_on_s3_without_nginx_the_view_redirects(media):
    host = host_of(media)
    prefix = lecture_version_prefix(media.tenant.schema_name, media.lecture_id, 2)

    answer = asgi(media.url(STORED[0]), host=host)

    location = urlsplit(answer.header("location"))
    assert (answer.status, answer.django) == (302, True)
    assert (location.netloc, location.path) == (
        "127.0.0.1:9",
        f"/lectern/{prefix}/hls/240p/seg_00000.ts",
    )


@override_settings(
    TENANT_HOST_CACHE_SECONDS=5, STORAGES=S3_STORAGES, MEDIA_ACCEL_REDIRECT="/_lectern_media/"
)
def test_on_s3_behind_nginx_the_redirect_names_the_presigned_object(media):
    host = host_of(media)
    prefix = lecture_version_prefix(media.tenant.schema_name, media.lecture_id, 2)

    answer = asgi(media.url(STORED[0]), host=host)
    again = asgi(
        media.url(STORED[0], token=media.sign(student_id=media.other_student_id)), host=host
    )

    target = urlsplit(answer.header("x-accel-redirect"))
    assert (answer.status, answer.body, answer.django) == (200, b"", False)
    assert target.path == f"/_lectern_media/s3/lectern/{prefix}/hls/240p/seg_00000.ts"
    assert parse_qs(target.query)["X-Amz-Expires"] == ["300"]
    # Another student's request names the same presigned URL (reused for
    # MEDIA_PRESIGN_REUSE_SECONDS), so every cache keeps one copy.
    assert again.header("x-accel-redirect") == answer.header("x-accel-redirect")


@pytest.fixture
def production_security():
    """HSTS behind a TLS proxy, as config/settings/production.py sets it. Django's
    SecurityMiddleware reads these settings when the middleware chain is built, so the chain
    of the ASGI handler is built again inside and after."""
    from config.asgi import django_asgi_app

    overrides = override_settings(
        TENANT_HOST_CACHE_SECONDS=5,
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
        SECURE_HSTS_SECONDS=31536000,
        SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
        SECURE_HSTS_PRELOAD=True,
        SECURE_SSL_REDIRECT=True,
    )
    with overrides:
        django_asgi_app.load_middleware(is_async=True)
        yield
    django_asgi_app.load_middleware(is_async=True)


def test_production_security_headers_match_the_view(media, production_security):
    host = host_of(media)
    url = media.url(STORED[0])

    secure, secure_view = both(url, host=host, headers=[("x-forwarded-proto", "https")])
    plain, plain_view = both(url, host=host)

    assert (secure.django, secure.status) == (False, 200)
    assert secure.comparable() == secure_view.comparable()
    assert secure.header("strict-transport-security") == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert (plain.django, plain.status) == (True, 301)
    assert plain.comparable() == plain_view.comparable()

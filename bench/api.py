"""Catalogue and student API benchmark: what the course cache (``courses.cache``) buys on the
real server.

Run it from the repository root (PostgreSQL and Redis up, ``make install`` done)::

    BENCH_DATABASE=lectern_bench .venv/bin/python -m bench.api [--courses 50] [--sections 5]
        [--lectures 10] [--requests 1000] [--seconds 4] [--rounds 3] [--concurrency 8]

Set-up: in the bench school (:mod:`bench.common`) ``--courses`` published courses of
``--sections`` sections of ``--lectures`` lectures each (50 x 5 x 10: 2,500 lectures), and a
student enrolled in 10 of them with 3 lectures completed in each. Then one
``uvicorn bench.api:application`` process (test settings, the bench database) serves:

``/``
    The school's home page (``catalog.web.views.home``) through the whole middleware stack,
    as an anonymous visitor sees it: its course grid from the cache.
``/bench/uncached/``
    The baseline of ``/``: the same template and tenant, its course data read from the
    database on every request (``courses.cache.catalogue_query``, what a cache miss reads).
``/api/v1/students/courses``
    The student course list with the student's JWT: cached outlines plus two queries of the
    student's own rows (enrollments, completed lectures).
``/bench/minimal``
    A minimal JSON view on the same server, middleware stack and tenant (``{"ok": true}``):
    the floor any Django request of this server pays.

Latency: one keep-alive client requests ``/``, its baseline and the minimal view
``--requests`` times each in a row after a warm-up; p50 and p95 in milliseconds.
Throughput: ``--concurrency`` threads with keep-alive connections request the student course
list, then the minimal view, for ``--seconds``, ``--rounds`` times; the median requests per
second and the ratio list/minimal are printed. The client shares the machine's cores with
the server, so absolute numbers are lower than a separate client machine would see.

Goal (PASS/FAIL, exit status 0/1): p95 of the cached home page < GOAL_P95_MS (20 ms). The
bench's courses and student are removed at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time

from bench.common import bench_django, bench_env, bench_tenant, web_server

GOAL_P95_MS = 20.0
TITLE_PREFIX = "API bench course"
STUDENT_EMAIL = "api-student@bench.test"
ENROLLED_COURSES = 10
COMPLETED_PER_COURSE = 3


# --- The server side: ``uvicorn bench.api:application`` -----------------------------------------

_lectern_app = None


def __getattr__(name: str):
    # ``urlpatterns`` of the bench server's ROOT_URLCONF (this module), built on first use,
    # when Django is set up: the two bench routes, then every route of a school.
    if name == "urlpatterns":
        from django.urls import path

        from config.urls_tenants import urlpatterns as school_routes

        return [
            path("bench/minimal", _minimal),
            path("bench/uncached/", _uncached_home),
            *school_routes,
        ]
    raise AttributeError(name)


def _minimal(request):
    """The floor: a JSON body from a plain Django view."""
    from django.http import JsonResponse

    return JsonResponse({"ok": True})


def _uncached_home(request):
    """``catalog.web.views.home`` for an anonymous visitor without the cache: the course
    data read from the database and the page rendered on every request."""
    from django.shortcuts import render

    from catalog.web.views import CATALOGUE_TEMPLATE
    from courses.cache import catalogue_query

    context = {"tenant": request.tenant, "courses": catalogue_query(), "enrolled": set()}
    return render(request, CATALOGUE_TEMPLATE, context)


async def application(scope, receive, send):
    """The bench server: Lectern's ASGI application with this module as ROOT_URLCONF."""
    global _lectern_app
    if _lectern_app is None:
        from django.conf import settings

        settings.ROOT_URLCONF = __name__
        from config.asgi import application as lectern

        _lectern_app = lectern
    await _lectern_app(scope, receive, send)


# --- The client side -----------------------------------------------------------------------------


def _get(connection: http.client.HTTPConnection, path: str, headers: dict) -> bytes:
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"{path}: HTTP {response.status}: {body[:300]!r}")
    return body


def latencies(port: int, headers: dict, path: str, count: int) -> list[float]:
    """Milliseconds of ``count`` sequential requests of ``path`` on one keep-alive
    connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    result = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            _get(connection, path, headers)
            result.append((time.perf_counter() - started) * 1000)
    finally:
        connection.close()
    return result


def throughput(port: int, headers: dict, path: str, *, seconds: float, threads: int) -> float:
    """Requests per second of ``threads`` keep-alive clients requesting ``path`` for
    ``seconds`` (every answer must be a 200)."""
    counts = [0] * threads
    errors: list[BaseException] = []
    stop = time.perf_counter() + seconds

    def loop(i: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while time.perf_counter() < stop:
                _get(connection, path, headers)
                counts[i] += 1
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
        finally:
            connection.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise SystemExit(f"{path}: {errors[0]}")
    return sum(counts) / (time.perf_counter() - started)


def _percentiles(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94]


def _create_school_data(args) -> tuple[object, str, int]:
    """The bench courses and the enrolled student; returns (student, JWT, lectures)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from courses.cache import catalogue_invalidate
    from courses.models import Course, Lecture, Section
    from enrollment.models import Enrollment, LectureProgress
    from media_pipeline.models import MediaAsset
    from tenants.accounts.tokens import tokens_for_user

    users = get_user_model().objects
    owner = users.get(email="owner@bench.test")
    student = users.filter(email=STUDENT_EMAIL).first() or users.create_user(
        email=STUDENT_EMAIL, password=None, role="student", name="API bench student"
    )
    with transaction.atomic():
        # Bulk inserts send no signals: one invalidation at the end stands for all of them.
        courses = Course.objects.bulk_create(
            Course(
                title=f"{TITLE_PREFIX} {n:02d}",
                slug=f"api-bench-{n:02d}",
                subtitle="A benchmark course",
                description="Sections and lectures to render.",
                status=Course.Status.PUBLISHED,
                created_by=owner,
            )
            for n in range(args.courses)
        )
        sections = Section.objects.bulk_create(
            Section(course=course, title=f"Section {s}", order=s)
            for course in courses
            for s in range(1, args.sections + 1)
        )
        lectures = [
            Lecture(section=section, title=f"Lecture {n}", order=n)
            for section in sections
            for n in range(1, args.lectures + 1)
        ]
        videos = MediaAsset.objects.bulk_create(
            (MediaAsset(owner_id=lecture.id, duration=300.0) for lecture in lectures),
            batch_size=1000,
        )
        for lecture, video in zip(lectures, videos, strict=True):
            lecture.video = video
        Lecture.objects.bulk_create(lectures, batch_size=1000)
        for course in courses[:ENROLLED_COURSES]:
            Enrollment.objects.create(student=student, course=course)
            done = [lec for lec in lectures if lec.section.course_id == course.id]
            LectureProgress.objects.bulk_create(
                LectureProgress(
                    student=student,
                    lecture_id=lec.id,
                    position=300.0,
                    completion=100.0,
                    completed=True,
                    watched=[[0, 300.0]],
                )
                for lec in done[:COMPLETED_PER_COURSE]
            )
        catalogue_invalidate(course_id=None)
    return student, tokens_for_user(student)["access"], len(lectures)


def _remove_school_data() -> None:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from courses.models import Course
    from enrollment.models import Enrollment, LectureProgress

    with transaction.atomic():
        student = get_user_model().objects.filter(email=STUDENT_EMAIL).first()
        if student is not None:
            LectureProgress.objects.filter(student=student).delete()
        Enrollment.objects.filter(course__title__startswith=TITLE_PREFIX).delete()
        Course.objects.filter(title__startswith=TITLE_PREFIX).delete()
        if student is not None:
            student.delete()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--courses", type=int, default=50)
    parser.add_argument("--sections", type=int, default=5)
    parser.add_argument("--lectures", type=int, default=10)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)

    bench_django()
    from django_tenants.utils import tenant_context

    tenant = bench_tenant()
    try:
        with tenant_context(tenant):
            _remove_school_data()  # what an interrupted run may have left
            started = time.perf_counter()
            _, token, lecture_count = _create_school_data(args)
            created = time.perf_counter() - started
        print(
            f"api bench: {args.courses} published courses x {args.sections} sections x "
            f"{args.lectures} lectures ({lecture_count} lectures, created in {created:.1f} s); "
            f"a student enrolled in {ENROLLED_COURSES}; load average "
            f"{os.getloadavg()[0]:.2f}"
        )
        with web_server(env=bench_env(), log=_log_path(), app="bench.api:application") as (
            _,
            base_url,
        ):
            port = int(base_url.rsplit(":", 1)[1])
            host = {"Host": f"{tenant.domains.get(is_primary=True).domain}:{port}"}
            student = {**host, "Authorization": f"Bearer {token}"}
            cached_page = _get(http.client.HTTPConnection("127.0.0.1", port), "/", host)
            plain_page = _get(
                http.client.HTTPConnection("127.0.0.1", port), "/bench/uncached/", host
            )
            # The pages differ only by the navigation's current-page mark (their paths differ).
            cached_page = cached_page.replace(b' aria-current="page"', b"")
            if cached_page != plain_page or cached_page.count(TITLE_PREFIX.encode()) < args.courses:
                import difflib

                diff = difflib.unified_diff(
                    cached_page.decode().splitlines(), plain_page.decode().splitlines(), lineterm=""
                )
                raise SystemExit("the cached home page differs:\n" + "\n".join(list(diff)[:30]))
            listing = json.loads(
                _get(
                    http.client.HTTPConnection("127.0.0.1", port),
                    "/api/v1/students/courses",
                    student,
                )
            )
            expected = round(100.0 * COMPLETED_PER_COURSE / (args.sections * args.lectures), 2)
            if len(listing) != ENROLLED_COURSES or {c["progress"] for c in listing} != {expected}:
                raise SystemExit(f"unexpected student course list: {listing[:1]}")
            warm = max(50, args.requests // 10)
            results = {}
            pages = (
                ("cached /", "/"),
                ("uncached /", "/bench/uncached/"),
                ("minimal", "/bench/minimal"),
            )
            for name, path in pages:
                latencies(port, host, path, warm)
                results[name] = _percentiles(latencies(port, host, path, args.requests))
                p50, p95 = results[name]
                print(
                    f"  {name:>11}: p50 {p50:6.2f} ms, p95 {p95:6.2f} ms ({args.requests} requests)"
                )
            rps: dict[str, list[float]] = {"list": [], "minimal": []}
            routes = {
                "list": ("/api/v1/students/courses", student),
                "minimal": ("/bench/minimal", host),
            }
            for path, headers in routes.values():
                throughput(port, headers, path, seconds=1.0, threads=args.concurrency)
            for round_number in range(1, args.rounds + 1):
                for name, (path, headers) in routes.items():
                    value = throughput(
                        port, headers, path, seconds=args.seconds, threads=args.concurrency
                    )
                    rps[name].append(value)
                    print(f"  round {round_number} {name:>7}: {value:8.1f} requests/s")
        median = {name: statistics.median(values) for name, values in rps.items()}
        p95 = results["cached /"][1]
        passed = p95 < GOAL_P95_MS
        print(
            f"home page p95: cached {p95:.2f} ms, uncached {results['uncached /'][1]:.2f} ms "
            f"(x{results['uncached /'][1] / p95:.1f}), "
            f"minimal view {results['minimal'][1]:.2f} ms; "
            f"goal cached < {GOAL_P95_MS:.0f} ms: "
            f"{'PASS' if passed else 'FAIL'}"
        )
        print(
            f"median requests/s ({args.concurrency} clients): student course list "
            f"{median['list']:.1f}, minimal view {median['minimal']:.1f}, "
            f"ratio list/minimal {median['list'] / median['minimal']:.3f}"
        )
        return 0 if passed else 1
    finally:
        with tenant_context(tenant):
            _remove_school_data()
        _log_path().unlink(missing_ok=True)


def _log_path():
    """Where the bench server's output goes (removed at the end of the run)."""
    import tempfile
    from pathlib import Path

    return Path(tempfile.gettempdir()) / f"lectern-bench-api-{os.getpid()}.log"


if __name__ == "__main__":
    sys.exit(main())

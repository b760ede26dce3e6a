"""Class roster benchmark: importing 1,000 rows (500 students of the school, 500 new
addresses) with ``teams.services.roster_import``, against a baseline of the bare inserts the
import cannot avoid (``bulk_create`` of the same 500 enrollments and 500 invitations).

    python -m bench.roster [--rows 1000] [--runs 5]

Each run is one transaction rolled back afterwards, so runs are independent and the bench
database keeps nothing (no invitation e-mail is sent: they are queued only on commit). Prints
the median seconds of each and their ratio; PASS when the import takes under GOAL_SECONDS.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.common import bench_django, bench_tenant

GOAL_SECONDS = 10.0


class _Rollback(Exception):
    pass


def _timed(body) -> float:
    from django.db import transaction

    started = time.perf_counter()
    try:
        with transaction.atomic():
            body()
            elapsed = time.perf_counter() - started
            raise _Rollback
    except _Rollback:
        return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bench_django()
    tenant = bench_tenant()

    import secrets
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from courses.models import Course
    from enrollment.models import Enrollment
    from teams.models import Invitation
    from teams.services import roster_import

    User = get_user_model()
    known = args.rows // 2
    with tenant_context(tenant):
        owner = User.objects.filter(role="owner").first()
        course = Course.objects.filter(slug="roster-bench").first()
        if course is None:
            course = Course.objects.create(title="Roster bench", slug="roster-bench")
        taken = set(
            User.objects.filter(email__startswith="roster-").values_list("email", flat=True)
        )
        unusable = make_password(None)
        User.objects.bulk_create(
            [
                User(email=_email(n), name=f"R{n}", password=unusable)
                for n in range(known)
                if _email(n) not in taken
            ],
            batch_size=1000,
        )
        student_ids = list(
            User.objects.filter(email__startswith="roster-").values_list("id", flat=True)
        )[:known]
        csv = ("email\n" + "".join(f"{_email(n)}\n" for n in range(args.rows))).encode()

        def baseline():
            Enrollment.objects.bulk_create(
                [Enrollment(course=course, student_id=pk) for pk in student_ids], batch_size=1000
            )
            Invitation.objects.bulk_create(
                [
                    Invitation(
                        email=_email(n),
                        role="student",
                        course=course,
                        nonce=secrets.token_hex(16),
                        token_hash=secrets.token_hex(32),
                        expires_at=timezone.now() + timedelta(days=7),
                    )
                    for n in range(known, args.rows)
                ],
                batch_size=1000,
            )

        def imported():
            rows = roster_import(course=course, content=csv, invited_by=owner)
            assert len(rows) == args.rows

        base = statistics.median(_timed(baseline) for _ in range(args.runs))
        full = statistics.median(_timed(imported) for _ in range(args.runs))
    print(f"roster of {args.rows} rows ({known} students, {args.rows - known} new addresses)")
    print(f"baseline (bulk inserts only): {base:.3f} s; roster_import: {full:.3f} s")
    print(f"ratio import / baseline: {full / base:.1f} (goal: import under {GOAL_SECONDS} s)")
    ok = full < GOAL_SECONDS
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def _email(n: int) -> str:
    return f"roster-{n}@bench.test"


if __name__ == "__main__":
    sys.exit(main())

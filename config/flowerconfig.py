"""Flower's configuration file (the Celery queues' web console, README "Monitoring").

Run Flower with it from the repository root, on the same broker as the workers::

    celery -A config flower --conf=config/flowerconfig.py --port=5555

Flower executes this file and takes the module-level names that are its options. Access is by
HTTP basic auth only: ``basic_auth`` comes from the ``FLOWER_BASIC_AUTH`` setting
(``config/settings/base.py``, comma-separated ``user:password`` pairs from the environment or
``.env``), and Flower refuses to start (exit status 1, one line saying why) when it is empty or
a pair lacks its user or password, since Flower without it would let anyone revoke tasks and
shut workers down. Flower's ``/metrics`` and ``/healthcheck`` stay open by its design, so its
port belongs on a private network or behind a proxy that only passes authenticated requests.
"""

from django.conf import settings

FLOWER_SETTING = "FLOWER_BASIC_AUTH"


def basic_auth_pairs(pairs: list[str]) -> list[str]:
    """``pairs`` (``user:password`` strings) stripped, or ``SystemExit`` naming the problem."""
    cleaned = [pair.strip() for pair in pairs if pair.strip()]
    if not cleaned:
        raise SystemExit(
            f"Flower needs {FLOWER_SETTING}: set it to user:password (comma-separated pairs)."
        )
    for pair in cleaned:
        user, _, password = pair.partition(":")
        if not user or not password:
            raise SystemExit(f"{FLOWER_SETTING}: each pair must be user:password.")
    return cleaned


basic_auth = basic_auth_pairs(settings.FLOWER_BASIC_AUTH)
# Celery events, which the task list needs, are switched on in the workers by Flower itself.
enable_events = True

"""Test settings: the real PostgreSQL, Redis (or RabbitMQ), a throwaway media root, fast hashing."""

import hashlib
import tempfile
import uuid
from pathlib import Path

from .base import *  # noqa: F403
from .base import (
    CACHES,
    CHANNEL_LAYERS,
    REDIS_URL,
    REST_FRAMEWORK,
    STORAGE_BACKEND,
    celery_broker_settings,
    email_settings,
    env,
)

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# locmem unless EMAIL_URL names a mail server (base.email_settings), so the web servers and
# workers that tests start can deliver to an SMTP server of the test. pytest-django's own test
# process always uses locmem (django.test.utils.setup_test_environment).
globals().update(email_settings("django.core.mail.backends.locmem.EmailBackend"))

# Each test run (and each xdist worker) gets its own media area and Redis key space.
# The folder is only named here; it is created by the first file written into it, so a process
# that merely loads these settings (a management command, a control client) leaves nothing.
_RUN_DIR = Path(
    env("TEST_MEDIA_DIR", default="")
    or Path(tempfile.gettempdir()) / f"lectern-test-{uuid.uuid4().hex[:12]}"
)
MEDIA_ROOT = _RUN_DIR / "media"
# A web server a test starts may be given a staging folder of its own (two servers behind one
# address share nothing on disk: tests/test_scaling.py).
UPLOAD_STAGING_DIR = Path(env("TEST_UPLOAD_STAGING_DIR", default="") or _RUN_DIR / "uploads")
TRANSCODE_WORK_DIR = _RUN_DIR / "work"
ARCHIVE_WORK_DIR = _RUN_DIR / "archives"
BACKUP_TARGET = str(_RUN_DIR / "backups")
# STORAGE_BACKEND=s3 keeps base's bucket settings, read from the environment.
if STORAGE_BACKEND != "s3":
    STORAGES = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": "/files/"},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
# The web servers and workers that tests start get this run's TEST_MEDIA_DIR (tests/plugins/stack.py
# e2e_env), hence the same cache and channel-layer prefixes as the test process: a worker's
# events reach the web server's sockets, and the watch events a server buffers are the ones the
# worker flushes. Another test run (another folder) never shares them.
_RUN_PREFIX = "lectern-test-" + hashlib.sha256(str(_RUN_DIR.resolve()).encode()).hexdigest()[:16]
CACHES["default"]["KEY_PREFIX"] = _RUN_PREFIX
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = _RUN_PREFIX
LOGGING = {"version": 1, "disable_existing_loggers": False}
# A broker database of its own, so a worker of `make run` on the same machine never takes the
# test suite's tasks (and the other way round). TEST_CELERY_BROKER_URL=amqp://... runs the
# suite on RabbitMQ instead: each test process then works in a virtual host of its own, made
# and deleted by tests/plugins/stack.py (pytest_configure), which rewrites this variable for
# the processes it starts.
TEST_REDIS_BROKER_URL = REDIS_URL.rsplit("/", 1)[0] + "/15"
CELERY_BROKER_URL = env("TEST_CELERY_BROKER_URL", default=TEST_REDIS_BROKER_URL)
globals().update(celery_broker_settings(CELERY_BROKER_URL))
# Processes started with another TEST_CELERY_KEY_PREFIX (kombu's Redis global_keyprefix) share
# the broker database without taking each other's tasks, e.g. the S3-mode web server and worker
# of tests/test_s3_mode.py beside the local-mode ones of tests/test_end_to_end.py.
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405 (celery_broker_settings)
        "global_keyprefix": env("TEST_CELERY_KEY_PREFIX", default=""),
    }
# The brokers of the tests that run on both (tests/test_crash_safety.py, the queue-length
# metric): a Redis database, where they take key prefixes of their own, and a RabbitMQ server,
# where they make virtual hosts of their own (tests/plugins/rabbitmq.py).
TEST_RABBITMQ_URL = env("TEST_RABBITMQ_URL", default="amqp://guest:guest@127.0.0.1:5672//")

# The suite logs in and redeems far more often than a person does; the throttle tests set
# their own small rates (enrollment/tests/test_throttling.py), and a server a test starts takes
# a scope's rate from TEST_THROTTLE_<SCOPE> (TEST_THROTTLE_LOGIN_ACCOUNT=3/min).
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        scope: env(f"TEST_THROTTLE_{scope.upper()}", default="100000/min")
        for scope in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    },
}
# The same WhiteNoise, scanning the static finders once per process instead of once per test
# client (tests/plugins/whitenoise.py).
MIDDLEWARE = [
    "tests.plugins.whitenoise.WhiteNoiseMiddleware"
    if name == "whitenoise.middleware.WhiteNoiseMiddleware"
    else name
    for name in MIDDLEWARE  # noqa: F405 (base)
]
# Static files come from STATICFILES_DIRS through WhiteNoise's finders; nothing is collected
# here (STATIC_ROOT is for the production image), so WhiteNoise has no folder to scan.
STATIC_ROOT = None
# Tests roll back their transactions, which the host cache's signals cannot see; the tests of
# the cache itself turn it on with override_settings. The benches (bench/common.py) run their
# servers with the production default instead.
TENANT_HOST_CACHE_SECONDS = env.float("TEST_TENANT_HOST_CACHE_SECONDS", default=0.0)

# Statements over 200 ms are common on a loaded test machine (a school's schema copy in one
# statement); logged, they would land in the output that tests compare. The slow-query tests set
# their own threshold (tenants/tests/test_slow_queries.py).
SLOW_QUERY_MS = env.int("SLOW_QUERY_MS", default=10_000)
# Web servers the tests start flush their media-bytes-served counts often, so a test sees them
# in Redis within a fraction of a second (plans.metering).
SERVED_FLUSH_SECONDS = env.float("SERVED_FLUSH_SECONDS", default=0.2)
# Custom-domain checks never ask the Internet's DNS: a closed loopback port refuses at once
# (tests that check domains point DOMAIN_DNS_NAMESERVERS at their own server, tests/dns.py).
DOMAIN_DNS_NAMESERVERS = env.list("DOMAIN_DNS_NAMESERVERS", default=["127.0.0.1:9"])
DOMAIN_DNS_TIMEOUT = env.float("DOMAIN_DNS_TIMEOUT", default=0.2)

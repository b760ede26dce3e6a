"""Test settings: the real PostgreSQL and Redis, a throwaway media root, fast hashing."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import CACHES, CHANNEL_LAYERS, REDIS_URL, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Each test run (and each xdist worker) gets its own media area and Redis key space.
_RUN_DIR = Path(env("TEST_MEDIA_DIR", default=tempfile.mkdtemp(prefix="lectern-test-")))
MEDIA_ROOT = _RUN_DIR / "media"
UPLOAD_STAGING_DIR = _RUN_DIR / "uploads"
TRANSCODE_WORK_DIR = _RUN_DIR / "work"
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": "/files/"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CACHES["default"]["KEY_PREFIX"] = f"lectern-test-{os.getpid()}"
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"lectern-test-{os.getpid()}"
LOGGING = {"version": 1, "disable_existing_loggers": False}
# A broker database of its own, so a worker of `make run` on the same machine never takes the
# test suite's tasks (and the other way round).
CELERY_BROKER_URL = env("TEST_CELERY_BROKER_URL", default=REDIS_URL.rsplit("/", 1)[0] + "/15")

"""Fixtures for the student side. The course, its instructor, students and the ready lecture
are shared by every app (``tests/plugins/schools.py``)."""

import pytest

from tenants.middleware import tenant_host_cache_clear
from tests.plugins.media import TINY


@pytest.fixture(autouse=True)
def _fresh_host_cache():
    """Each test starts and ends with an empty host -> tenant cache of the HTTP middleware: a
    test's transaction is rolled back without the model signals that clear the cache, so a
    school changed inside one test (branding, a domain) must not be served to the next."""
    tenant_host_cache_clear()
    yield
    tenant_host_cache_clear()


@pytest.fixture(scope="session")
def tiny_clip(clip):
    """A 2 s 320x240 H.264 + stereo AAC mp4 made by FFmpeg (``tests.plugins.media.TINY``)."""
    return clip(TINY)

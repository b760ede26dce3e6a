"""Session-wide fixtures: the real test database with two committed schools.

Creating a schema per test is too slow (ARCHITECTURE.md tenancy rule 6): ``tenant`` and
``other_tenant`` are provisioned once per database and every test runs inside a transaction
that is rolled back.
"""

import os
import shutil
import sys

import pytest
from django.conf import settings
from django.db import connection

from tenants.testing import TEST_TENANTS, ensure_test_tenant

# Bytecode caches for this process and every one it starts (web servers, workers, management
# commands): with PYTHONDONTWRITEBYTECODE set, as on some machines, each of the suite's Python
# processes compiled the project's modules again (about 0.45 s of CPU per start) and each xdist
# worker rewrote the test modules' assertions again (about 10 s). The caches live in the
# ignored __pycache__ folders.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# The fixtures every app shares: processes (web server, Celery worker, e2e school), people and
# courses of the test schools, test media and ready lectures, the S3 server, the browser, the
# DNS server of the custom-domain tests.
pytest_plugins = [
    "tests.plugins.stack",
    "tests.plugins.schools",
    "tests.plugins.media",
    "tests.plugins.s3",
    "tests.plugins.browser",
    "tests.plugins.dns",
]


# The database named by the settings (DATABASE_URL), before pytest-django points the connection
# at the test database.
_CONFIGURED_DATABASE = settings.DATABASES["default"]["NAME"]


@pytest.fixture(scope="session")
def django_db_setup(
    request, django_db_setup, django_db_blocker, django_db_keepdb, django_db_createdb
):
    """The test database with the two committed schools.

    pytest-django creates the test database only for the databases the selected tests ask for
    with ``django_db``, ``db`` or ``transactional_db``. Tests that use only the committed
    schools and the processes started on them (``e2e_school``: real workers must not run
    inside a test transaction) ask for none; run alone, they would otherwise reach the
    database named by the settings. The test database is then set up here the same way.
    """
    from django.test.utils import setup_databases, teardown_databases

    created_here = None
    if connection.settings_dict["NAME"] == _CONFIGURED_DATABASE:
        with django_db_blocker.unblock():
            created_here = setup_databases(
                verbosity=request.config.option.verbose,
                interactive=False,
                aliases={"default"},
                keepdb=django_db_keepdb and not django_db_createdb,
            )
    with django_db_blocker.unblock():
        for subdomain, name in TEST_TENANTS.values():
            ensure_test_tenant(subdomain, name)
        connection.set_schema_to_public()
    yield
    if created_here is not None and not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(created_here, verbosity=request.config.option.verbose)


def _tenant(subdomain):
    from tenants.models import Tenant

    return Tenant.objects.get(subdomain=subdomain)


@pytest.fixture
def tenant(db):
    """School A (``alpha.localhost``)."""
    return _tenant(TEST_TENANTS["tenant"][0])


@pytest.fixture
def other_tenant(db):
    """School B (``beta.localhost``)."""
    return _tenant(TEST_TENANTS["other_tenant"][0])


@pytest.fixture(autouse=True)
def _public_schema_after_test():
    yield
    connection.set_schema_to_public()


@pytest.fixture(scope="session", autouse=True)
def _remove_test_media_at_exit():
    """The test settings put media in a fresh temporary folder per run; remove it afterwards
    unless the caller chose the folder (TEST_MEDIA_DIR)."""
    yield
    if not os.environ.get("TEST_MEDIA_DIR"):
        shutil.rmtree(settings.MEDIA_ROOT.parent, ignore_errors=True)

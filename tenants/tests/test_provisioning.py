"""``manage.py provision_tenant`` (API.md: Management commands), run as a real process.

Creating a schema is DDL that must be committed, so the command runs in a subprocess against
the test database and the checks read committed state; every school created here is dropped
again at teardown.

Other suites (the end-to-end tests) provision their own schools in the same test database and
may run at the same time, so each call here uses a unique school name: "nothing was created"
means no tenant or schema appeared except those of schools with another name, and teardown only
drops schools with the names used here.
"""

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import schema_context

from tenants.models import Domain, Tenant
from tenants.testing import PASSWORD, TEST_TENANTS

ROOT = Path(__file__).resolve().parents[2]
TAKEN = TEST_TENANTS["tenant"][0]  # committed by the root conftest: alpha.localhost


@dataclass(frozen=True)
class Run:
    """One finished ``provision_tenant`` process and the unique school name it was given."""

    name: str
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def provision(committed):
    """``provision(label, *args)`` runs the command for a school named ``<label> <random>``;
    every school created under such a name is dropped when the test ends."""
    names: list[str] = []

    def run(label: str, *args: str) -> Run:
        name = f"{label} {secrets.token_hex(4)}"
        names.append(name)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/"
            + connection.settings_dict["NAME"],
            "TEST_MEDIA_DIR": str(Path(settings.MEDIA_ROOT).parent),
        }
        result = subprocess.run(
            [sys.executable, "manage.py", "provision_tenant", "--name", name, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return Run(name, result.returncode, result.stdout, result.stderr)

    yield run
    connection.set_schema_to_public()
    for tenant in Tenant.objects.filter(name__in=names):
        tenant.delete(force_drop=True)


def new_subdomain() -> str:
    return f"t-{secrets.token_hex(4)}"


def schema_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT schema_name FROM information_schema.schemata")
        return {row[0] for row in cursor.fetchall()}


def snapshot() -> tuple[set[str], set[str]]:
    """(schema names of the tenant rows, schemas in PostgreSQL) right now."""
    return set(Tenant.objects.values_list("schema_name", flat=True)), schema_names()


def assert_nothing_created(before: tuple[set[str], set[str]], run: Run) -> None:
    """No tenant row and no schema appeared since ``before``, except schools that other
    processes provisioned meanwhile (they carry another name)."""
    tenants_before, schemas_before = before
    tenants_now, schemas_now = snapshot()
    others = set(Tenant.objects.exclude(name=run.name).values_list("schema_name", flat=True))
    assert tenants_now - tenants_before - others == set()
    assert schemas_now - schemas_before - others == set()
    assert not Tenant.objects.filter(name=run.name).exists()


def has_table(schema_name: str, table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            [schema_name, table],
        )
        return cursor.fetchone() is not None


def one_line(stream: str) -> str:
    lines = stream.strip().splitlines()
    assert len(lines) == 1, stream
    return lines[0]


def emails_in(schema_name: str) -> list[str]:
    with schema_context(schema_name):
        return sorted(get_user_model().objects.values_list("email", flat=True))


# ----------------------------------------------------------------------------- success


def test_provisioning_creates_the_school_and_prints_its_url(provision):
    subdomain = new_subdomain()
    schema_name = subdomain.replace("-", "_")

    run = provision("Acme Academy", "--subdomain", subdomain, "--owner-email", "Owner@Acme.test")

    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    url, owner, password = run.stdout.splitlines()
    assert url == f"http://{subdomain}.localhost/"
    assert owner == "owner: owner@acme.test"
    assert password.startswith("password: ")
    tenant = Tenant.objects.get(subdomain=subdomain)
    assert (tenant.schema_name, tenant.name, tenant.kind) == (schema_name, run.name, "school")
    assert schema_name in schema_names()
    for table in ("courses_course", "courses_lecture", "media_pipeline_upload", "accounts_user"):
        assert has_table(schema_name, table), table
    assert [(d.domain, d.is_primary) for d in Domain.objects.filter(tenant=tenant)] == [
        (f"{subdomain}.localhost", True)
    ]
    user_model = get_user_model()
    with schema_context(schema_name):
        (account,) = user_model.objects.all()
        assert (account.email, account.role) == ("owner@acme.test", "owner")
        assert account.check_password(password.removeprefix("password: "))
    with schema_context("public"):
        assert not user_model.objects.filter(email="owner@acme.test").exists()


def test_domain_adds_a_second_domain(provision):
    subdomain = new_subdomain()
    custom = f"courses.{subdomain}.test"

    run = provision(
        "Acme", "--subdomain", subdomain, "--owner-email", "owner@acme.test",
        "--owner-password", PASSWORD, "--domain", custom,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"http://{subdomain}.localhost/", "owner: owner@acme.test"]
    tenant = Tenant.objects.get(subdomain=subdomain)
    domains = Domain.objects.filter(tenant=tenant).order_by("-is_primary")
    assert [(d.domain, d.is_primary, d.kind, d.status) for d in domains] == [
        (f"{subdomain}.localhost", True, "platform", "active"),
        (custom, False, "custom", "pending"),
    ]
    # The custom domain waits for its DNS proof (tenants.domains) like one the owner adds.
    assert len(domains[1].token) == 32
    with schema_context(tenant.schema_name):
        assert get_user_model().objects.get().check_password(PASSWORD)


# ----------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("subdomain", "domain", "reason"),
    [
        (TAKEN, None, f"Subdomain '{TAKEN}' is already taken."),
        (TAKEN.upper(), None, f"Subdomain '{TAKEN}' is already taken."),
        ("NEW", f"{TAKEN}.localhost", f"Domain '{TAKEN}.localhost' is already in use."),
    ],
    ids=["same subdomain", "upper case", "host as custom domain"],
)
def test_a_taken_subdomain_or_domain_fails_and_creates_nothing(
    provision, subdomain, domain, reason
):
    fresh = new_subdomain()
    subdomain = fresh if subdomain == "NEW" else subdomain
    before = snapshot()
    accounts_before = emails_in(TAKEN)

    run = provision(
        "Copycat", "--subdomain", subdomain, "--owner-email", "copy@cat.test",
        "--owner-password", PASSWORD, *(["--domain", domain] if domain else []),
    )  # fmt: skip

    assert run.returncode != 0
    assert run.stdout == ""
    assert one_line(run.stderr) == f"CommandError: {reason}"
    assert_nothing_created(before, run)
    assert not Domain.objects.filter(domain=f"{fresh}.localhost").exists()
    assert Tenant.objects.get(subdomain=TAKEN).domains.count() == 1
    assert emails_in(TAKEN) == accounts_before


@pytest.mark.parametrize(
    ("subdomain", "reason"),
    [
        ("Bad_Name", "Invalid subdomain 'Bad_Name': use 3-40 lowercase letters, digits and"),
        ("ab", "Invalid subdomain 'ab': use 3-40 lowercase letters, digits and"),
        ("-abc", "Invalid subdomain '-abc': use 3-40 lowercase letters, digits and"),
        ("a--b", "Invalid subdomain 'a--b': use 3-40 lowercase letters, digits and"),
        ("www", "Invalid subdomain 'www': the name is reserved."),
    ],
)
def test_an_invalid_subdomain_fails_with_one_line_and_creates_nothing(provision, subdomain, reason):
    before = snapshot()

    run = provision(
        "Bad", f"--subdomain={subdomain}", "--owner-email", "owner@bad.test",
        "--owner-password", PASSWORD,
    )  # fmt: skip

    assert run.returncode != 0
    assert run.stdout == ""
    assert one_line(run.stderr).startswith(f"CommandError: {reason}")
    assert_nothing_created(before, run)
    assert not Domain.objects.filter(domain=f"{subdomain.lower()}.localhost").exists()


@pytest.mark.parametrize("password", ["123", "password", "owner@weak.test"])
def test_a_weak_owner_password_fails_and_creates_nothing(provision, password):
    subdomain = new_subdomain()
    before = snapshot()

    run = provision(
        "Weak", "--subdomain", subdomain, "--owner-email", "owner@weak.test",
        "--owner-password", password,
    )  # fmt: skip

    assert run.returncode != 0
    assert run.stdout == ""
    assert one_line(run.stderr).startswith(
        "CommandError: The owner password is not strong enough: "
    )
    assert_nothing_created(before, run)
    assert subdomain.replace("-", "_") not in schema_names()
    assert not Tenant.objects.filter(subdomain=subdomain).exists()
    assert not Domain.objects.filter(domain=f"{subdomain}.localhost").exists()


def test_an_invalid_owner_email_fails_and_creates_nothing(provision):
    subdomain = new_subdomain()
    before = snapshot()

    run = provision(
        "Mail", "--subdomain", subdomain, "--owner-email", "not-an-email",
        "--owner-password", "correct-horse-battery",
    )  # fmt: skip

    assert run.returncode != 0
    assert one_line(run.stderr) == "CommandError: Invalid owner e-mail 'not-an-email'."
    assert_nothing_created(before, run)
    assert subdomain.replace("-", "_") not in schema_names()

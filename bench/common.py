"""Shared set-up for the benchmarks: a database of their own with one provisioned school.

Every bench runs against the real PostgreSQL and Redis with the test settings (a throwaway
media folder per run) and the database ``BENCH_DATABASE`` (default ``lectern_bench``), which is
created, migrated and given the school ``bench`` on first use and reused afterwards.

    from bench.common import bench_django, bench_tenant
    bench_django()            # before importing any Django model
    tenant = bench_tenant()   # tenants.models.Tenant of the school "bench"

Benchmarks that need the real web server use ``web_server()`` (uvicorn, one process) and
``process_tree_memory()`` (resident memory of a process and its children).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_SUBDOMAIN = "bench"
BENCH_PASSWORD = "bench-owner-pass"  # noqa: S105 (a local benchmark account)


def bench_database_url() -> str:
    """``postgres://postgres@127.0.0.1:5432/<BENCH_DATABASE>``, or ``BENCH_DATABASE_URL``."""
    name = os.environ.get("BENCH_DATABASE", "lectern_bench")
    return os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{name}")


def bench_env() -> dict[str, str]:
    """Environment for the bench process and any server or worker it starts."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    env["DATABASE_URL"] = bench_database_url()
    env.setdefault("PLATFORM_DOMAIN", "localhost")
    env.setdefault("PYTHONUNBUFFERED", "1")
    # The host -> school cache as deployed (config.settings.base default), not the test suite's 0.
    env.setdefault("TEST_TENANT_HOST_CACHE_SECONDS", "5")
    return env


def bench_django() -> None:
    """Create and migrate the bench database if needed, then ``django.setup()`` this process.

    Raises:
        SystemExit: PostgreSQL is unreachable or a migration fails (its output is printed).
    """
    env = bench_env()
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")})
    os.environ.setdefault("PLATFORM_DOMAIN", env["PLATFORM_DOMAIN"])
    sys.path.insert(0, str(REPO_ROOT))
    for command in (
        [sys.executable, "scripts/ensure_database.py"],
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
    ):
        result = subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    import django

    django.setup()


def bench_tenant():
    """The school ``bench`` (``bench.localhost``), provisioned on first use.

    Its owner is ``owner@bench.test`` with ``BENCH_PASSWORD``. Call ``bench_django()`` first.
    """
    from tenants.models import Tenant
    from tenants.services import platform_setup, tenant_provision

    platform_setup()
    tenant = Tenant.objects.filter(subdomain=BENCH_SUBDOMAIN).first()
    if tenant is None:
        tenant = tenant_provision(
            subdomain=BENCH_SUBDOMAIN,
            name="Bench Academy",
            owner_email=f"owner@{BENCH_SUBDOMAIN}.test",
            owner_password=BENCH_PASSWORD,
        ).tenant
    return tenant


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def web_server(
    *, env: dict[str, str], log: Path, app: str = "config.asgi:application", timeout: float = 60
) -> Iterator[tuple[subprocess.Popen, str]]:
    """Run ``uvicorn <app>`` (one process, 127.0.0.1, a free port) and yield
    ``(process, base_url)`` once it answers HTTP; it is stopped (SIGTERM, then SIGKILL of its
    process group) on exit. Its output goes to ``log``.

    Raises:
        SystemExit: the server exited or did not answer within ``timeout`` seconds (the end
            of its log is printed).
    """
    port = free_port()
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    command = [uvicorn, app, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-4000:]
                raise SystemExit(f"uvicorn {app} did not start:\n{tail}")
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                connection.request("GET", "/healthz", headers={"Host": f"localhost:{port}"})
                connection.getresponse().read()
                break  # any HTTP answer: the application is up
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
            finally:
                connection.close()
        yield process, base_url
    finally:
        stop_process_group(process, signal.SIGTERM, grace=15)


def stop_process_group(process: subprocess.Popen, first: int, *, grace: float) -> None:
    """Send ``first`` to ``process``'s process group, then SIGKILL if it has not exited
    within ``grace`` seconds."""
    for sig in (first, signal.SIGKILL):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
            break


def process_tree_memory(pid: int) -> dict[str, int]:
    """``{"VmHWM": bytes, "VmRSS": bytes, "processes": n}`` of ``pid`` and its descendants,
    from ``/proc/<pid>/status`` (Linux). VmHWM is each process's peak resident set; the sum
    over several processes is an upper bound of their joint peak."""
    totals = {"VmHWM": 0, "VmRSS": 0, "processes": 0}
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except FileNotFoundError:
            continue  # exited meanwhile
        totals["processes"] += 1
        for line in status.splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                totals[key] += int(value.split()[0]) * 1024  # reported in kB
        for task in tasks:
            with suppress(FileNotFoundError):
                pending.extend(int(child) for child in (task / "children").read_text().split())
    return totals


NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")


@contextmanager
def nginx_server(
    config: str,
    folder: Path,
    *,
    ports: tuple[int, ...],
    timeout: float = 15,
    host: str = "127.0.0.1",
    wrapper: tuple[str, ...] = (),
) -> Iterator[subprocess.Popen]:
    """Run Debian's nginx (``NGINX``, default ``/usr/sbin/nginx``; package ``nginx-light``) in
    the foreground with ``config`` (a whole ``nginx.conf`` with ``daemon off``), its
    configuration, pid and temporary files in ``folder``, never as a system service. Yields
    the process once every TCP port in ``ports`` on 127.0.0.1 accepts connections; it is
    stopped (SIGQUIT, then SIGKILL of its process group) on exit. ``wrapper`` runs it inside
    another command (``ip netns exec <host>``), listening on ``host``.

    Raises:
        SystemExit: nginx is missing, refuses the configuration (``nginx -t``'s output is
            given) or does not listen within ``timeout`` seconds.
    """
    if not Path(NGINX).exists():
        raise SystemExit(f"{NGINX} is missing: `make install` installs Debian's nginx-light")
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(config)
    command = [*wrapper, NGINX, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")]
    if os.geteuid() == 0:
        # Workers would run as "nobody" and be refused the private temporary folders the
        # tests and benches keep their media in.
        command += ["-g", "user root;"]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    if checked.returncode != 0:
        raise SystemExit(f"nginx refused its configuration:\n{checked.stderr}")
    log = folder / "nginx.out"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        waiting = list(ports)
        while waiting:
            if process.poll() is not None or time.monotonic() > deadline:
                errors = (folder / "error.log").read_text(errors="replace")[-4000:]
                raise SystemExit(f"nginx did not start:\n{errors}")
            with socket.socket() as probe, suppress(OSError):
                probe.settimeout(0.5)
                probe.connect((host, waiting[0]))
                waiting.pop(0)
                continue
            time.sleep(0.05)
        yield process
    finally:
        stop_process_group(process, signal.SIGQUIT, grace=5)

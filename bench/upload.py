"""Upload benchmark: the web server's memory does not grow with the size of a tus upload, and
how fast it takes the bytes compared with the disk they end up on.

Run it from the repository root (PostgreSQL up, ``make install`` done)::

    BENCH_DATABASE=lectern_bench .venv/bin/python -m bench.upload [--sizes-mib 50 2048]
        [--patch-mib 64]

It takes about a minute on a 2-core machine and needs the largest size free on the disk of the
temporary folder. Exit status: 0 when the memory goal holds, 1 when it fails (or, with a
message, when the set-up fails).

For each size (default 50 MiB, then 2 GiB) a fresh ``uvicorn config.asgi:application`` (one
process, test settings, the bench database and school, see :mod:`bench.common`) is started.
A warm-up upload (creation, one 1 MiB PATCH, termination) brings the whole tus code path into
memory; then the server's peak resident set (``VmHWM`` in ``/proc/<pid>/status``, summed over
its child processes, of which there are normally none) is read, the measured upload is
created and sent in PATCH requests of ``--patch-mib`` MiB (default 64 MiB, a chunk size
clients set behind proxies that limit request bodies; tuspy's default is one request for the
whole file; the last PATCH is shorter), and the peak is read again. The increase of the peak is
the memory the upload cost the server. The server's CPU time (user + system) during the upload
is printed alongside.

The client streams each PATCH body from a generator over one 1 MiB block of random bytes, so
it never holds a request body in memory (its own peak is printed too). Random bytes are not a
video: the last byte makes the server validate the file, which refuses it at the magic-bytes
check (the lecture ends ``failed``, the staging file is removed). So what is measured is the
tus append path (HTTP parsing, the streamed body, 1 MiB writes, one ``fsync`` per PATCH, the
offset update) plus a refused validation, not the probe of a real video.

Throughput is the upload's bytes over the wall time from the first PATCH to the last
response, in MiB/s, and is compared with writing the same bytes to the same disk right after:
a file in the staging folder, written in ``media_pipeline.uploads.CHUNK_SIZE`` pieces, one
``fsync`` per ``--patch-mib`` MiB, as the server does per PATCH. The ratio is upload / disk.

Goal (PASS/FAIL): the peak increase of the largest upload is within +/- 30 MiB of that of the
smallest. Everything the bench writes (staging, media, the baseline file, server logs) is in
one temporary folder, removed at the end; the course it creates is deleted.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import (
    BENCH_PASSWORD,
    BENCH_SUBDOMAIN,
    bench_django,
    bench_env,
    bench_tenant,
    process_tree_memory,
    web_server,
)
from media_pipeline.models import MediaAsset

MIB = 1024 * 1024
GOAL_MIB = 30.0  # allowed difference between the peak increases, MiB
BLOCK = os.urandom(MIB)  # the body is this block repeated


@dataclass
class Result:
    size: int
    patches: int
    upload_seconds: float
    disk_seconds: float
    hwm_before: int
    hwm_after: int
    rss_before: int
    rss_after: int
    processes: int
    server_cpu_seconds: float
    lecture_status: str

    @property
    def increase(self) -> int:
        return self.hwm_after - self.hwm_before


def body(length: int) -> Iterator[memoryview]:
    """``length`` bytes of ``BLOCK`` repeated, in pieces of at most 1 MiB (never joined)."""
    view = memoryview(BLOCK)
    while length > 0:
        piece = view[: min(length, len(view))]
        length -= len(piece)
        yield piece


class TusSession:
    """A minimal tus client on one keep-alive connection to a school's host."""

    def __init__(self, base_url: str, host: str) -> None:
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
        self.headers = {"Host": host, "Tus-Resumable": "1.0.0"}

    def request(self, method: str, path: str, headers=None, chunks=None, length: int = 0):
        """Send one request, the body streamed from ``chunks``; returns (status, headers, body)."""
        self.connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in {**self.headers, **(headers or {})}.items():
            self.connection.putheader(name, value)
        self.connection.putheader("Content-Length", str(length))
        self.connection.endheaders()
        for chunk in chunks or ():
            self.connection.send(chunk)
        response = self.connection.getresponse()
        return response.status, response.headers, response.read()

    def login(self, email: str, password: str) -> None:
        payload = json.dumps({"email": email, "password": password}).encode()
        status, _, content = self.request(
            "POST",
            "/api/v1/auth/token",
            {"Content-Type": "application/json"},
            [payload],
            len(payload),
        )
        if status != 200:
            raise SystemExit(f"login failed: {status} {content[:300]!r}")
        self.headers["Authorization"] = f"Bearer {json.loads(content)['access']}"

    def create(self, *, lecture_id: str, length: int) -> str:
        """tus creation; returns the upload's path."""
        metadata = f"lecture_id {_b64(lecture_id)},filename {_b64('bench.bin')}"
        status, headers, content = self.request(
            "POST", "/api/v1/uploads/", {"Upload-Length": str(length), "Upload-Metadata": metadata}
        )
        if status != 201:
            raise SystemExit(f"tus creation failed: {status} {content[:300]!r}")
        return urlsplit(headers["Location"]).path

    def append(self, path: str, *, offset: int, length: int) -> int:
        """One PATCH of ``length`` bytes at ``offset``; returns the new offset."""
        status, headers, content = self.request(
            "PATCH",
            path,
            {"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"},
            body(length),
            length,
        )
        if status != 204:
            raise SystemExit(f"PATCH at {offset} failed: {status} {content[:300]!r}")
        return int(headers["Upload-Offset"])

    def terminate(self, path: str) -> None:
        status, _, content = self.request("DELETE", path)
        if status != 204:
            raise SystemExit(f"tus termination failed: {status} {content[:300]!r}")

    def close(self) -> None:
        self.connection.close()


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def disk_write_seconds(folder: Path, *, size: int, patch: int) -> float:
    """Write ``size`` bytes to a new file in ``folder`` the way the server appends them: one
    open + seek + truncate per ``patch`` bytes, ``CHUNK_SIZE`` writes, flush and fsync; the
    file is removed afterwards. Returns the wall time in seconds."""
    from media_pipeline.uploads import CHUNK_SIZE

    path = folder / "bench-disk-baseline.part"
    path.touch()
    try:
        started = time.perf_counter()
        offset = 0
        while offset < size:
            length = min(patch, size - offset)
            with path.open("r+b") as handle:
                handle.seek(offset)
                handle.truncate()
                written = 0
                view = memoryview(BLOCK)
                while written < length:
                    piece = view[: min(CHUNK_SIZE, length - written)]
                    handle.write(piece)
                    written += len(piece)
                handle.flush()
                os.fsync(handle.fileno())
            offset += length
        return time.perf_counter() - started
    finally:
        path.unlink(missing_ok=True)


def run_one(*, size: int, patch: int, lecture_id: str, staging: Path, logs: Path) -> Result:
    """Upload ``size`` bytes to a fresh server and measure it (module docstring)."""

    env = bench_env()
    with web_server(env=env, log=logs / f"uvicorn-{size}.log") as (process, base_url):
        host = f"{BENCH_SUBDOMAIN}.localhost:{urlsplit(base_url).port}"
        client = TusSession(base_url, host)
        try:
            client.login(f"owner@{BENCH_SUBDOMAIN}.test", BENCH_PASSWORD)
            warm = client.create(lecture_id=lecture_id, length=2 * MIB)
            client.append(warm, offset=0, length=MIB)
            client.terminate(warm)

            before = process_tree_memory(process.pid)
            cpu_before = cpu_seconds(process.pid)
            path = client.create(lecture_id=lecture_id, length=size)
            offset, patches = 0, 0
            started = time.perf_counter()
            while offset < size:
                offset = client.append(path, offset=offset, length=min(patch, size - offset))
                patches += 1
            upload_seconds = time.perf_counter() - started
            server_cpu = cpu_seconds(process.pid) - cpu_before
            after = process_tree_memory(process.pid)
        finally:
            client.close()
    lecture = MediaAsset.objects.get(owner_id=lecture_id)
    staging.mkdir(parents=True, exist_ok=True)
    disk_seconds = disk_write_seconds(staging, size=size, patch=patch)
    return Result(
        size=size,
        patches=patches,
        upload_seconds=upload_seconds,
        disk_seconds=disk_seconds,
        hwm_before=before["VmHWM"],
        hwm_after=after["VmHWM"],
        rss_before=before["VmRSS"],
        rss_after=after["VmRSS"],
        processes=after["processes"],
        server_cpu_seconds=server_cpu,
        lecture_status=lecture.video.status,
    )


def _mib(value: float) -> str:
    return f"{value / MIB:.1f} MiB"


def report(result: Result) -> None:
    upload_rate = result.size / MIB / result.upload_seconds
    disk_rate = result.size / MIB / result.disk_seconds
    print(
        f"{_mib(result.size)} in {result.patches} PATCH: "
        f"upload {result.upload_seconds:.2f} s = {upload_rate:.1f} MiB/s; "
        f"disk {result.disk_seconds:.2f} s = {disk_rate:.1f} MiB/s; "
        f"upload/disk = {upload_rate / disk_rate:.2f}; "
        f"server CPU {result.server_cpu_seconds:.2f} s\n"
        f"  server VmHWM {_mib(result.hwm_before)} -> {_mib(result.hwm_after)} "
        f"(+{_mib(result.increase)}), VmRSS {_mib(result.rss_before)} -> "
        f"{_mib(result.rss_after)}, {result.processes} process(es); "
        f"lecture after the last byte: {result.lecture_status}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[50, 2048])
    parser.add_argument("--patch-mib", type=int, default=64)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="lectern-bench-upload-"))
    # Test settings put media and staging under TEST_MEDIA_DIR: this process and the servers.
    os.environ["TEST_MEDIA_DIR"] = str(workdir)
    tenant = course = None
    try:
        bench_django()
        from django.conf import settings
        from django.db import transaction
        from django_tenants.utils import tenant_context

        from courses.services import course_create, course_delete, lecture_create, section_create

        tenant = bench_tenant()
        staging = Path(settings.UPLOAD_STAGING_DIR) / tenant.schema_name
        logs = workdir / "logs"
        logs.mkdir()
        print(
            f"tus upload bench: sizes {args.sizes_mib} MiB, PATCH {args.patch_mib} MiB, "
            f"staging {staging}, load average {os.getloadavg()[0]:.2f}"
        )
        results = []
        with tenant_context(tenant):
            course = course_create(title="Upload bench")
            section = section_create(course=course, title="Bench")
            for size_mib in args.sizes_mib:
                lecture = lecture_create(section=section, title=f"{size_mib} MiB")
                result = run_one(
                    size=size_mib * MIB,
                    patch=args.patch_mib * MIB,
                    lecture_id=str(lecture.id),
                    staging=staging,
                    logs=logs,
                )
                report(result)
                results.append(result)
        small, large = results[0], results[-1]
        difference = (large.increase - small.increase) / MIB
        passed = abs(difference) <= GOAL_MIB
        print(
            f"memory: peak increase {_mib(large.size)} +{_mib(large.increase)} vs "
            f"{_mib(small.size)} +{_mib(small.increase)}: difference {difference:+.1f} MiB "
            f"(goal within +/-{GOAL_MIB:.0f} MiB): {'PASS' if passed else 'FAIL'}"
        )
        client = process_tree_memory(os.getpid())
        print(f"client (this process) VmHWM {_mib(client['VmHWM'])}")
        left = sorted(p.name for p in staging.iterdir()) if staging.exists() else []
        print(f"staging files left by the server: {left or 'none'}")
        return 0 if passed else 1
    finally:
        if course is not None:
            with tenant_context(tenant), transaction.atomic():
                course_delete(course=course)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""Chunked transcodes with real workers (``media_pipeline.chunks``): a 36 s lecture, cut into
12 s chunks (threshold 10 s), is encoded by two Celery workers at once.

- On this machine, with local storage, one chunk's pool process and its FFmpeg are SIGKILLed in
  the middle of the encode (as the kernel's OOM killer would): Celery gives the chunk's message
  back at once (``reject_on_worker_lost``), the chunk is redone alone under the same claim, and
  the lecture ends ``ready`` exactly once with a conformant ladder and nothing left behind.
- On two hosts made with network namespaces (``tests/netns.py``, as root) that share no folder,
  the source and the chunks travel through the S3 server only: each worker reads the source by
  presigned URL, stores its chunks in the bucket, and the join reads them back from there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from celery import Celery
from django.conf import settings
from django.db import transaction

from media_pipeline.conformance import hls_check
from media_pipeline.models import MediaAsset, TranscodeChunk
from tests.netns import network
from tests.plugins.media import ClipSpec
from tests.plugins.stack import VENV_BIN, _log_tail, _spawn, _stop_process_group, worker_start
from tests.test_crash_safety import (
    _children,
    _new_lecture,
    _transcode_outcomes,
    _wait_for,
    broker_space,
)

pytestmark = pytest.mark.timeout(300)

CLIP = ClipSpec(640, 360, 36, fps=30, sample_rate=44100, channels=2, shortest=True)
CHUNK_ENV = {
    "TRANSCODE_CHUNK_THRESHOLD": "10",
    "TRANSCODE_CHUNK_SECONDS": "12",
    # x264 "slow" makes each 12 s chunk take a few seconds, so that a kill lands mid-encode.
    "TRANSCODE_PRESET": "slow",
}
CHUNKS = ["audio", "c00000", "c00001", "c00002"]
WAIT = 120.0


@pytest.fixture(scope="module")
def chunk_clip(clip) -> Path:
    return clip(CLIP)


@pytest.fixture(scope="module")
def chunk_broker():
    """A Redis key space of this module's own for its workers and this process's sends."""
    with broker_space("redis") as broker:
        yield broker


def _owner(school):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(email=school.owner_email)


def _accept(owner, lecture, path: Path) -> None:
    """Ingest ``path`` as the last byte of a tus upload would; the task is sent on commit."""
    from media_pipeline.uploads import upload_from_path

    with transaction.atomic():
        upload_from_path(user=owner, lecture_id=lecture.id, path=path)


def _row(lecture_id) -> MediaAsset:
    return MediaAsset.objects.get(owner_id=lecture_id, kind=MediaAsset.Kind.VIDEO)


def _chunk_rows(lecture_id) -> dict[str, TranscodeChunk]:
    rows = TranscodeChunk.objects.filter(asset__owner_id=lecture_id)
    return {row.name: row for row in rows}


def _ffmpeg_of(pool: int, marker: str) -> int | None:
    """The FFmpeg child of the pool process ``pool`` whose command line holds ``marker``."""
    for child in _children(pool):
        with contextlib.suppress(OSError):
            if marker in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace"):
                return child
    return None


@pytest.fixture
def two_workers(e2e_env, e2e_school, e2e_logs, chunk_broker):
    """Two workers (concurrency 1) on this machine and the module's broker space, stopped after
    the test: the two hosts' workers of the next test must be the only consumers there."""
    from config.celery import app

    env = {**e2e_env, **chunk_broker.env, **CHUNK_ENV}
    token = secrets.token_hex(3)
    processes = []
    try:
        for n in (1, 2):
            node = f"chunks-{token}-{n}@{socket.gethostname()}"
            processes.append(
                (node, worker_start(env, e2e_logs / f"chunk-worker-{n}.log", node, app))
            )
        yield processes
    finally:
        for _, process in processes:
            _stop_process_group(process)


def test_a_chunk_killed_mid_encode_is_redone_alone_and_the_lecture_ends_ready_once(
    two_workers, e2e_school, chunk_clip, django_db_blocker, record_property
):
    from django_tenants.utils import schema_context

    from tenants.storage import lecture_version_prefix

    with django_db_blocker.unblock(), schema_context(e2e_school.schema_name):
        lecture = _new_lecture(_owner(e2e_school), "Killed chunk")
        started = time.monotonic()
        _accept(_owner(e2e_school), lecture, chunk_clip)
        marker = f"{lecture.pk}-v1-c00001"

        def encoding():
            row = _chunk_rows(lecture.pk).get("c00001")
            if row is None or row.status != "processing" or row.progress <= 0:
                return None
            for _, process in two_workers:
                for pool in _children(process.pid):
                    ffmpeg = _ffmpeg_of(pool, marker)
                    if ffmpeg is not None:
                        return row, pool, ffmpeg
            return None

        row, pool, ffmpeg = _wait_for(encoding, "chunk c00001 mid-encode", timeout=WAIT)
        # The pool process first: if FFmpeg died first, the run could see its exit status.
        for pid in (pool, ffmpeg):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        assert row.attempts == 1 and _row(lecture.pk).status == "processing"

        ready = _wait_for(
            lambda: _row(lecture.pk).status in ("ready", "failed") and _row(lecture.pk),
            "the lecture to finish",
            timeout=WAIT,
            interval=0.1,
        )
        finished = time.monotonic()
        assert (ready.status, ready.error, ready.version) == ("ready", None, 1)
        rows = _chunk_rows(lecture.pk)
        assert sorted(rows) == CHUNKS
        assert {name: (r.status, r.attempts) for name, r in rows.items()} == {
            "audio": ("done", 1),
            "c00000": ("done", 1),
            "c00001": ("done", 2),
            "c00002": ("done", 1),
        }
        # The kill redid one chunk, never the lecture: one join made it ready, once (its result
        # is stored when the task returns, just after the switch).
        _wait_for(lambda: "true" in _transcode_outcomes(lecture.pk), "the join's result")
        assert _transcode_outcomes(lecture.pk) == ["false", "true"]
        assert ready.attempts == 1
        stored = Path(settings.MEDIA_ROOT) / lecture_version_prefix(
            e2e_school.schema_name, lecture.pk, 1
        )
        assert hls_check(stored / "hls") == []
        # The chunks are deleted just after the switch commits.
        _wait_for(lambda: not (stored / "chunks").exists(), "the chunks' deletion", timeout=10)
        assert sorted(p.name for p in stored.iterdir()) == ["hls"]
        work = Path(settings.TRANSCODE_WORK_DIR) / e2e_school.schema_name
        assert [p.name for p in work.glob(f"{lecture.pk}*")] == []
        record_property(
            "chunk_kill",
            {
                "kill_to_ready_s": round(finished - killed_at, 2),
                "upload_to_ready_s": round(finished - started, 2),
            },
        )


# ----------------------------------------------------------------------------- two hosts


@pytest.fixture(scope="module")
def worker_hosts(e2e_env, e2e_school, e2e_logs, s3, chunk_broker, tmp_path_factory):
    """Two hosts, each running one worker (concurrency 1) with a media folder of its own; the
    database, Redis and the S3 server are reached through relays on the bridge."""
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (the CI machine runs the suite as root)")
    folder = tmp_path_factory.mktemp("chunk-hosts")
    processes = []
    with network(prefix="lc", net=78) as net:
        gateway = net.gateway
        database = urlsplit(e2e_env["DATABASE_URL"])
        broker = urlsplit(chunk_broker.url)
        s3_port = urlsplit(s3.url).port
        for port in {database.port, broker.port or 6379, 6379, s3_port}:
            net.forward(port)
        env = {
            **e2e_env,
            **s3.environment(),
            **CHUNK_ENV,
            "AWS_S3_ENDPOINT_URL": f"http://{gateway}:{s3_port}",
            "DATABASE_URL": e2e_env["DATABASE_URL"].replace(database.hostname, gateway),
            "REDIS_URL": f"redis://{gateway}:6379/0",
            "TEST_CELERY_BROKER_URL": chunk_broker.url.replace(broker.hostname, gateway),
            "TEST_CELERY_KEY_PREFIX": chunk_broker.prefix,
        }
        control = Celery("chunk-hosts-ping", broker=chunk_broker.url, set_as_current=False)
        control.conf.broker_transport_options = {"global_keyprefix": chunk_broker.prefix}
        try:
            nodes = {}
            for name in ("w1", "w2"):
                net.add(name)
                node = f"chunks-{secrets.token_hex(3)}@{name}"
                log = e2e_logs / f"chunk-host-{name}.log"
                worker = _spawn(
                    net.command(
                        name,
                        [
                            str(VENV_BIN / "celery"), "-A", "config", "worker",
                            "-Q", "transcode", "--concurrency", "1", "-n", node,
                            "--without-gossip", "--without-mingle", "-l", "warning",
                        ],
                    ),
                    {**env, "TEST_MEDIA_DIR": str(folder / name)},
                    log,
                )  # fmt: skip
                processes.append(worker)
                deadline = time.monotonic() + 60
                while not any(node in r for r in control.control.ping([node], timeout=0.5)):
                    if worker.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"worker {name} did not answer:\n{_log_tail(log)}")
                nodes[name] = node
            yield nodes, folder
        finally:
            control.close()
            for process in processes:
                _stop_process_group(process, grace=5)


def test_two_workers_on_two_hosts_encode_one_lecture_through_s3_only(
    worker_hosts, e2e_school, chunk_clip, s3, django_db_blocker, tmp_path
):
    from django.test import override_settings
    from django_tenants.utils import schema_context

    from tenants.storage import lecture_version_prefix

    nodes, host_folders = worker_hosts
    with (
        django_db_blocker.unblock(),
        schema_context(e2e_school.schema_name),
        override_settings(STORAGES=s3.storages()),
    ):
        lecture = _new_lecture(_owner(e2e_school), "Across hosts")
        _accept(_owner(e2e_school), lecture, chunk_clip)
        ready = _wait_for(
            lambda: _row(lecture.pk).status in ("ready", "failed") and _row(lecture.pk),
            "the lecture to finish",
            timeout=WAIT,
            interval=0.1,
        )
        assert (ready.status, ready.error) == ("ready", None)
        rows = _chunk_rows(lecture.pk)
        assert sorted(rows) == CHUNKS
        assert {r.status for r in rows.values()} == {"done"}
        # Both hosts encoded chunks of the one lecture.
        assert {r.worker for r in rows.values()} == set(nodes.values())
        prefix = lecture_version_prefix(e2e_school.schema_name, lecture.pk, 1)
        # The chunks are deleted just after the switch commits.
        _wait_for(lambda: not s3.objects(f"{prefix}/chunks/"), "the chunks' deletion", timeout=10)
        keys = s3.objects(f"{prefix}/")
        assert keys and all(key.startswith(f"{prefix}/hls/") for key in keys)
        for key in keys:
            target = tmp_path / key.removeprefix(f"{prefix}/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get(key)["Body"])
        assert hls_check(tmp_path / "hls") == []
    # Nothing was written to a folder that another host could have read.
    for name in nodes:
        work = host_folders / name / "work"
        assert not work.exists() or [p for p in work.rglob("*") if p.is_file()] == []
        media = host_folders / name / "media"
        assert not media.exists() or [p for p in media.rglob("*") if p.is_file()] == []

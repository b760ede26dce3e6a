"""Crash safety of the transcode pipeline under ``kill -9``, with real worker processes, on
both brokers (tests parametrised ``redis`` and ``amqp``).

A Celery worker (prefork, concurrency 1) transcodes generated clips in the committed e2e
school. The test watches the lecture's progress in the database and, at a random point of
the run, SIGKILLs the worker's whole process group (main process, pool process and FFmpeg) and
starts a new worker.

- Redis: kombu's Redis transport never gives the killed task back to the new worker (it waits
  in the ``unacked`` hash for the 40 h visibility timeout), so the test runs the recovery sweep
  (``recovery.lecture_transcodes_recover``, what the beat task runs every minute) with a
  threshold of 2 s instead of the production lease timeout. It checks that the message stays
  stuck, then restores those messages itself, as the visibility timeout eventually would, to
  prove that the late redeliveries change nothing.
- RabbitMQ: the broker requeues the killed task as soon as the dead worker's connection closes,
  and the new worker resumes it under the same claim (its task id) without any sweep; nothing
  stays unacknowledged afterwards.

Every lecture must end ``ready`` exactly once (each state change is recorded by a polling
thread, and exactly one task execution per lecture returned True in the result backend), with
one final version, exactly one ``v<N>`` folder in storage, no work folder and no staging file.
A video whose worker dies on every attempt must end ``failed`` after 3 attempts with a readable
error and nothing left behind.

Timings (kill -> worker back, kill -> run claimed again, kill -> ready) are printed and
recorded as properties, never asserted, with their medians per broker. ``CRASH_SEED`` replays
the same kill points.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections, transaction

from media_pipeline import leases, recovery, transcoding
from media_pipeline.models import MediaAsset
from tests.plugins import rabbitmq
from tests.plugins.media import ClipSpec
from tests.plugins.stack import VENV_BIN, _stop_process_group, worker_start

pytestmark = [pytest.mark.timeout(240)]

CLIP_SECONDS = 30
CLIP_SIZE = "480x270"  # one 270p rung
# x264 "slow" makes the 30 s clip take a few seconds, so that a kill lands mid-run.
WORKER_PRESET = "slow"
# Kill points are progress values observed in the database. Progress is written at most once a
# second, so the last write of a run of 2.5 s or more is at 60 % or above; the encode takes about
# 6 s of CPU (3-9 s of wall time on 2 cores).
KILL_PROGRESS_RANGE = (0.0, 60.0)
SWEEP_THRESHOLD = timedelta(seconds=2)
WAIT_TIMEOUT = 90.0
EXHAUSTED = "The video could not be processed after 3 attempts."


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def crash_clip(clip) -> Path:
    """A 30 s 480x270 25 fps H.264 + AAC clip (lavfi test pattern and tone)."""
    width, height = CLIP_SIZE.split("x")
    spec = ClipSpec(int(width), int(height), CLIP_SECONDS, sample_rate=44100, shortest=True)
    return clip(spec)


def _forget_broker_connections(app) -> None:
    # Celery caches its broker connection pool and producer pool on first use
    # (celery/app/base.py ``Celery.pool``, app/amqp.py ``AMQP.producer_pool``), and the queues
    # and router built from ``task_queues`` (``AMQP.queues``, ``AMQP.router``); forget them as
    # ``Celery._after_fork`` does, so the next publish connects with the current options. The
    # pools stay in kombu's global pool groups (kombu/pools.py, keyed by the connection with its
    # transport options), where the session broker's pool is found again afterwards.
    app._pool = None
    app.amqp._producer_pool = None
    for cached in ("queues", "router", "default_queue"):
        app.amqp.__dict__.pop(cached, None)


# Celery settings of the test process that depend on the broker (config.settings.base).
_BROKER_CONF = (
    "broker_url",
    "broker_transport_options",
    "task_queues",
    "broker_heartbeat",
    "worker_cancel_long_running_tasks_on_connection_loss",
)


@dataclass
class CrashBroker:
    """The broker of this module's workers: ``kind`` (``redis`` or ``amqp``), its ``url`` and
    the environment the workers get (TEST_CELERY_BROKER_URL, and on Redis the key prefix);
    ``vhost`` is the RabbitMQ virtual host (``None`` on Redis)."""

    kind: str
    url: str
    env: dict[str, str]
    prefix: str = ""
    vhost: rabbitmq.VirtualHost | None = None

    def count(self, kind: str) -> int:
        """Messages in the ``transcode`` queue (``kind="queued"``) or delivered from it and not
        yet acknowledged (``kind="unacked"``), in this module's broker space. Deliveries of the
        other queues (a lecture's captions, an index task) that a worker holds while it runs
        them are not counted."""
        if self.vhost is not None:
            ready, unacked = rabbitmq.queue_counts(self.vhost).get("transcode", (0, 0))
            return ready if kind == "queued" else unacked
        from config.celery import app

        with app.connection_for_write() as conn:
            client = conn.default_channel.client
            if kind == "queued":
                return client.llen("transcode")
            return len(_transcode_deliveries(conn.default_channel))

    def settle(self, *, unacked: int, what: str) -> None:
        """Wait until nothing waits in the ``transcode`` queue and ``unacked`` deliveries are
        held unacknowledged."""
        _wait_for(lambda: (self.count("queued"), self.count("unacked")) == (0, unacked), what)


@pytest.fixture(scope="module", params=["redis", "amqp"])
def crash_broker(request):
    """A broker space of this module's own (``broker_space``) on each broker in turn."""
    with broker_space(request.param) as broker:
        yield broker


@contextlib.contextmanager
def broker_space(kind: str):
    """A broker space of a test module's own for the test process and the workers it starts,
    so no other worker of the test session (e.g. the session's ``celery_worker``) takes its
    tasks: on Redis (``kind="redis"``) a kombu ``global_keyprefix`` in the test Redis database
    (its keys are deleted afterwards), on RabbitMQ (``"amqp"``) a virtual host (deleted
    afterwards). The test process's Celery app is switched to it, with the settings of that
    broker (``config.settings.base.celery_broker_settings``), and switched back at the end.
    Yields a ``CrashBroker``."""
    import redis

    from config.celery import app
    from config.settings.base import celery_broker_settings

    if kind == "redis":
        prefix = f"crash-{secrets.token_hex(4)}:"
        url, vhost = settings.TEST_REDIS_BROKER_URL, None
        env = {"TEST_CELERY_BROKER_URL": url, "TEST_CELERY_KEY_PREFIX": prefix}
    else:
        prefix = ""
        vhost = rabbitmq.vhost_create(settings.TEST_RABBITMQ_URL, "-crash")
        url = vhost.url
        env = {"TEST_CELERY_BROKER_URL": url}
    conf = {
        name.removeprefix("CELERY_").lower(): value
        for name, value in celery_broker_settings(url).items()
    }
    if prefix:
        conf["broker_transport_options"] = {
            **conf["broker_transport_options"],
            "global_keyprefix": prefix,
        }
    saved = {name: app.conf[name] for name in _BROKER_CONF}
    app.conf.update({"broker_url": url, **conf})
    _forget_broker_connections(app)
    try:
        yield CrashBroker(kind=kind, url=url, env=env, prefix=prefix, vhost=vhost)
    finally:
        app.pool.force_close_all()  # this broker space's connections; nothing uses it again
        app.conf.update(saved)
        _forget_broker_connections(app)
        if vhost is not None:
            rabbitmq.vhost_delete(vhost)
        else:
            client = redis.Redis.from_url(url)
            for key in client.scan_iter(match=f"{prefix}*"):
                client.delete(key)
            client.close()


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


class CrashWorker:
    """A Celery worker that can be SIGKILLed and started again (a new node name each time)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        from config.celery import app

        self.app = app
        self.env = env
        self.logs = logs
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.token = secrets.token_hex(3)

    def start(self) -> float:
        """Start a worker and wait until it answers a ping; returns the seconds it took."""
        began = time.monotonic()
        self.starts += 1
        node = f"crash-{self.token}-{self.starts}@{socket.gethostname()}"
        log = self.logs / f"crash-worker-{self.starts}.log"
        self.process = worker_start(self.env, log, node, self.app)
        return time.monotonic() - began

    def kill(self) -> None:
        """SIGKILL the worker's process group (main process, pool process, FFmpeg) and wait
        until none of them is left."""
        assert self.process is not None
        pgid = self.process.pid
        os.killpg(pgid, signal.SIGKILL)
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while True:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            assert time.monotonic() < deadline, "processes of the killed worker survived"
            time.sleep(0.02)

    def kill_pool_process(self) -> None:
        """SIGKILL only the pool process running the task and its FFmpeg, as the kernel's OOM
        killer would; the worker's main process lives on and notices the loss."""
        assert self.process is not None
        [pool] = _children(self.process.pid)
        # The pool process first: if FFmpeg died first, the pool process could still see its
        # exit status and fail the lecture itself.
        victims = [pool, *_children(pool)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            _stop_process_group(self.process)


@pytest.fixture(scope="module")
def crash_worker(e2e_env, e2e_school, e2e_logs, crash_broker):
    """A restartable worker on this module's broker space, encoding with WORKER_PRESET."""
    env = {**e2e_env, **crash_broker.env, "TRANSCODE_PRESET": WORKER_PRESET}
    worker = CrashWorker(env, e2e_logs)
    try:
        yield worker
    finally:
        worker.stop()


# ----------------------------------------------------------------------------- helpers


@dataclass
class Transitions:
    """Every distinct (status, version, pending_version, attempts) of the watched lectures'
    videos, polled every 20 ms by a thread of its own."""

    schema: str
    history: dict[str, list[tuple]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def watch(self, lecture_id) -> None:
        self.history.setdefault(str(lecture_id), [])

    def __enter__(self) -> Transitions:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()

    def _poll(self) -> None:
        from django_tenants.utils import schema_context

        from media_pipeline.models import MediaAsset

        try:
            with schema_context(self.schema):
                while not self._stop.is_set():
                    rows = MediaAsset.objects.filter(
                        owner_id__in=list(self.history), kind=MediaAsset.Kind.VIDEO
                    ).values_list("owner_id", "status", "version", "pending_version", "attempts")
                    for pk, *state in rows:
                        states = self.history[str(pk)]
                        if not states or states[-1] != tuple(state):
                            states.append(tuple(state))
                    self._stop.wait(0.02)
        finally:
            connections.close_all()

    def statuses(self, lecture_id) -> list[str]:
        return [state[0] for state in self.history[str(lecture_id)]]


def _row(lecture_id):
    return MediaAsset.objects.get(owner_id=lecture_id, kind=MediaAsset.Kind.VIDEO)


def _wait_for(predicate, what: str, timeout: float = WAIT_TIMEOUT, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


def _new_lecture(owner, title: str):
    from courses.services import course_create, lecture_create, section_create

    course = course_create(title=f"Crash safety: {title}", created_by=owner)
    section = section_create(course=course, title="Kill -9")
    return lecture_create(section=section, title=title)


def _upload(owner, lecture, clip: Path) -> None:
    """Ingest ``clip`` exactly as the last byte of a tus upload; the task is sent on commit."""
    from media_pipeline.uploads import upload_from_path

    with transaction.atomic():
        upload_from_path(user=owner, lecture_id=lecture.id, path=clip)


def _kill_during_run(worker, lecture_id, *, attempt: int, target: float, whole_group=True):
    """Wait until run ``attempt`` of the lecture reports progress >= ``target`` %, then kill.

    Returns ``(monotonic time of the kill, progress seen at the kill)``.
    """

    def reached():
        row = _row(lecture_id)
        assert row.status in (MediaAsset.Status.QUEUED, MediaAsset.Status.PROCESSING), (
            f"the run ended ({row.status}) before progress reached {target:.0f} %"
        )
        return (
            row.status == MediaAsset.Status.PROCESSING
            and row.attempts == attempt
            and row.progress >= target
            and row
        )

    row = _wait_for(reached, f"attempt {attempt} at {target:.0f} %")
    if whole_group:
        worker.kill()
    else:
        worker.kill_pool_process()
    killed_at = time.monotonic()
    after = _row(lecture_id)
    # The run must not have got to the switch. After a pool process kill the surviving main
    # process may already have delivered the message again (next attempt, or ``failed``).
    assert after.status != MediaAsset.Status.READY, "the kill missed the run"
    if whole_group:
        assert (after.status, after.attempts) == (MediaAsset.Status.PROCESSING, attempt)
    return killed_at, row.progress


def _until_lease_lapsed(killed_at: float) -> None:
    """The killed run beat last before ``killed_at``: SWEEP_THRESHOLD later its lease lapsed."""
    time.sleep(max(0.0, SWEEP_THRESHOLD.total_seconds() - (time.monotonic() - killed_at)))


def _sweep(schema: str) -> dict:
    from django_tenants.utils import schema_context

    with schema_context(schema):
        return recovery.lecture_transcodes_recover(stale_after=SWEEP_THRESHOLD)


def _transcode_deliveries(channel) -> set[bytes]:
    """The delivery tags of the unacknowledged messages taken from the ``transcode`` queue:
    kombu's Redis ``unacked`` hash holds ``[message, exchange, routing key]`` per tag (read
    tag by tag: kombu's key prefix covers HGET, not HGETALL)."""
    client = channel.client
    tags = client.zrange(channel.unacked_index_key, 0, -1)
    entries = {tag: client.hget(channel.unacked_key, tag) for tag in tags}
    return {tag for tag, raw in entries.items() if raw and json.loads(raw)[2] == "transcode"}


def _redeliver_unacked(app) -> int:
    """Redis: give back every delivered, unacknowledged message, as kombu does once the
    visibility timeout has passed (``QoS.restore_visible`` with a 0 s timeout); returns how many
    of them came from the ``transcode`` queue.

    A restored message leaves kombu's ``unacked_index`` (a new delivery gets a new tag). The
    restore is skipped while a worker's own periodic scan holds kombu's mutex, hence the loop.
    """
    with app.connection_for_write(transport_options={"visibility_timeout": 0}) as conn:
        channel = conn.default_channel
        transcodes = _transcode_deliveries(channel)
        stuck = set(channel.client.zrange(channel.unacked_index_key, 0, -1))
        deadline = time.monotonic() + WAIT_TIMEOUT
        while stuck & set(channel.client.zrange(channel.unacked_index_key, 0, -1)):
            assert time.monotonic() < deadline, "kombu did not restore the unacked messages"
            channel.qos.restore_visible(num=1000, interval=1)
            time.sleep(0.1)
    return len(transcodes & stuck)


def _transcode_outcomes(lecture_id) -> list[str]:
    """Stored results ("true"/"false") of the lecture's transcode task executions."""
    from django_celery_results.models import TaskResult

    rows = TaskResult.objects.filter(
        task_name="media_pipeline.tasks.lecture_transcode",
        task_kwargs__contains=str(lecture_id),
    )
    return sorted(row.result for row in rows)


def _files_under(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


def _assert_nothing_left_outside_storage(schema: str, lecture_ids) -> None:
    work_root = Path(settings.TRANSCODE_WORK_DIR) / schema
    names = {str(lecture_id) for lecture_id in lecture_ids}
    leftovers = (
        [path.name for path in work_root.iterdir() if path.name.rsplit("-v", 1)[0] in names]
        if work_root.exists()
        else []
    )
    assert leftovers == []
    assert _files_under(Path(settings.UPLOAD_STAGING_DIR) / schema) == []


def _report(record_property, name: str, rows: list[dict]) -> None:
    print(f"\n{name}:")
    for row in rows:
        print("  " + ", ".join(f"{key}={value}" for key, value in row.items()))
    record_property(name, rows)


# ----------------------------------------------------------------------------- tests


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def test_sigkills_mid_transcode_every_lecture_ends_ready_exactly_once(
    crash_broker, crash_worker, e2e_school, crash_clip, django_db_blocker, record_property
):
    from django.contrib.auth import get_user_model
    from django_tenants.utils import schema_context

    from tenants.storage import lecture_prefix

    amqp = crash_broker.kind == "amqp"
    # Lecture A killed twice (the sweep's requeue, then the third attempt finishes), C once
    # (superseded by a new source before a worker is back): 3 kills on each broker. A second
    # lecture killed twice takes the same path as A, and each kill with its restart and
    # re-encode costs about 10 s of the suite's time.
    killed_twice = ("A",)
    planned = 2 * len(killed_twice) + 1
    seed = int(os.environ.get("CRASH_SEED", secrets.randbelow(10**6)))
    rng = random.Random(seed)
    low, high = KILL_PROGRESS_RANGE
    step = (high - low) / planned
    # One kill point in each equal part of the range, in random order.
    targets = [rng.uniform(low + i * step, low + (i + 1) * step) for i in range(planned)]
    rng.shuffle(targets)
    print(f"\nCRASH_SEED={seed} kill points (%): {[round(t, 1) for t in targets]}")
    record_property("crash_seed", seed)

    schema = e2e_school.schema_name
    kills: list[dict] = []
    with django_db_blocker.unblock(), schema_context(schema), Transitions(schema) as seen:
        owner = get_user_model().objects.get(email=e2e_school.owner_email)
        crash_worker.start()

        def kill_and_recover(label, lecture_id, attempt, before_restart=None) -> float:
            target = targets[len(kills)]
            killed_at, progress = _kill_during_run(
                crash_worker, lecture_id, attempt=attempt, target=target
            )
            claim = _row(lecture_id).lease_claim  # the killed run's; no worker runs now
            if before_restart is not None:
                before_restart()
            restart = crash_worker.start()
            entry = {
                "broker": crash_broker.kind,
                "kill": len(kills) + 1,
                "lecture": label,
                "attempt": attempt,
                "target_pct": round(target, 1),
                "progress_at_kill_pct": progress,
                "worker_back_s": round(restart, 2),
            }
            kills.append(entry)
            if before_restart is not None:
                return killed_at
            if amqp:
                # RabbitMQ requeued the message when the killed worker's connection closed:
                # the new worker resumes it under the same claim, with no sweep.
                _wait_for(
                    lambda: _row(lecture_id).attempts == attempt + 1,
                    f"attempt {attempt + 1} of lecture {label}",
                )
                assert _row(lecture_id).lease_claim == claim
            else:
                # Nothing gives the killed task back to the new worker.
                assert crash_broker.count("unacked") == len(kills)
                _until_lease_lapsed(killed_at)
                assert _sweep(schema) == {"requeued": [lecture_id], "failed": []}
                _wait_for(
                    lambda: _row(lecture_id).attempts == attempt + 1,
                    f"attempt {attempt + 1} of lecture {label}",
                )
                assert _row(lecture_id).lease_claim != claim
            entry["claimed_again_s"] = round(time.monotonic() - killed_at, 2)
            return killed_at

        def wait_ready(label, lecture_id, killed_at) -> None:
            _wait_for(
                lambda: _row(lecture_id).status == MediaAsset.Status.READY, f"lecture {label} ready"
            )
            kills[-1]["kill_to_ready_s"] = round(time.monotonic() - killed_at, 2)
            # The run removes its work folder right after the switch.
            work = transcoding.transcode_work_dir(
                schema=schema, lecture_id=lecture_id, version=_row(lecture_id).version
            )
            _wait_for(lambda: not work.exists(), f"the work folder of lecture {label} removed")

        lectures = {}
        # Killed during their first two attempts; the third attempt finishes.
        for label in killed_twice:
            lecture = _new_lecture(owner, label)
            lectures[label] = lecture.pk
            seen.watch(lecture.pk)
            _upload(owner, lecture, crash_clip)
            kill_and_recover(label, lecture.pk, attempt=1)
            killed_at = kill_and_recover(label, lecture.pk, attempt=2)
            wait_ready(label, lecture.pk, killed_at)
        # C: killed during its first run, then a new source supersedes the killed version
        # before a worker is back (on RabbitMQ the killed version's message comes back first).
        lecture = _new_lecture(owner, "C")
        lectures["C"] = lecture.pk
        seen.watch(lecture.pk)
        _upload(owner, lecture, crash_clip)
        first_source = _row(lecture.pk).source_key
        killed_at = kill_and_recover(
            "C", lecture.pk, attempt=1, before_restart=lambda: _upload(owner, lecture, crash_clip)
        )
        wait_ready("C", lecture.pk, killed_at)
        # The new worker's start-up clean-up took the killed v1's work folder (no run holds v1
        # any more); the beat task's clean-up finds nothing left.
        killed_work = transcoding.transcode_work_dir(
            schema=schema, lecture_id=lecture.pk, version=1
        )
        _wait_for(lambda: not killed_work.exists(), "the killed run's work folder removed")
        assert recovery.transcode_work_dirs_clean() == []

        # RabbitMQ: every delivery was acknowledged, nothing is stuck. Redis: the killed
        # deliveries stay unacknowledged until they come back at last (visibility timeout), all
        # no-ops.
        crash_broker.settle(unacked=0 if amqp else planned, what="the last run to be acknowledged")
        if not amqp:
            assert _redeliver_unacked(crash_worker.app) == planned
            crash_broker.settle(unacked=0, what="the redelivered messages to be consumed")
        time.sleep(0.5)  # let the watcher see the final state

    _report(record_property, f"kills_{crash_broker.kind}", kills)
    medians = {
        "broker": crash_broker.kind,
        "kills": len(kills),
        "median_claimed_again_s": _median(
            [k["claimed_again_s"] for k in kills if "claimed_again_s" in k]
        ),
        "median_kill_to_ready_s": _median(
            [k["kill_to_ready_s"] for k in kills if "kill_to_ready_s" in k]
        ),
    }
    _report(record_property, f"medians_{crash_broker.kind}", [medians])
    # version, attempts of that version, stored results of the transcode task executions. A
    # killed execution stores no result; on Redis each killed delivery came back late and was
    # a no-op ("false"); on RabbitMQ it came back at once and is the run that went on.
    expected = {
        "A": (1, 3, ["true"] if amqp else ["false", "false", "true"]),
        "B": (1, 3, ["false", "false", "true"]),
        "C": (2, 1, ["false", "true"]),
    }
    with django_db_blocker.unblock(), schema_context(schema):
        for label, lecture_id in lectures.items():
            row = _row(lecture_id)
            version, attempts, outcomes = expected[label]
            assert (row.status, row.version, row.pending_version) == (
                MediaAsset.Status.READY,
                version,
                version,
            ), label
            assert row.attempts == attempts, label
            assert (row.error, row.progress) == (None, 100.0), label
            statuses = seen.statuses(lecture_id)
            assert statuses.count(MediaAsset.Status.READY) == 1, (
                label,
                seen.history[str(lecture_id)],
            )
            assert statuses[-1] == MediaAsset.Status.READY, label
            # One execution switched the lecture; every other delivery was a no-op.
            assert _transcode_outcomes(lecture_id) == outcomes, label
            root = Path(settings.MEDIA_ROOT) / lecture_prefix(schema, lecture_id)
            versions = sorted(path.name for path in root.iterdir() if path.name.startswith("v"))
            assert versions == [f"v{version}"], label
            files = _files_under(root)
            assert [name for name in files if name.startswith("sources/")] == [
                row.source_key.removeprefix(lecture_prefix(schema, lecture_id) + "/")
            ], label
            assert f"v{version}/hls/master.m3u8" in files, label
        assert not (Path(settings.MEDIA_ROOT) / first_source).exists()
        _assert_nothing_left_outside_storage(schema, lectures.values())
        connections.close_all()


def test_a_video_that_kills_its_worker_every_time_fails_after_three_attempts(
    crash_broker, crash_worker, e2e_school, crash_clip, django_db_blocker, record_property
):
    from django.contrib.auth import get_user_model
    from django_tenants.utils import schema_context

    from tenants.storage import lecture_prefix

    amqp = crash_broker.kind == "amqp"
    rng = random.Random(int(os.environ.get("CRASH_SEED", secrets.randbelow(10**6))))
    schema = e2e_school.schema_name
    kills: list[dict] = []
    with django_db_blocker.unblock(), schema_context(schema), Transitions(schema) as seen:
        owner = get_user_model().objects.get(email=e2e_school.owner_email)
        if crash_worker.process is None or crash_worker.process.poll() is not None:
            crash_worker.start()
        stuck_before = crash_broker.count("unacked")
        lecture = _new_lecture(owner, "D")
        seen.watch(lecture.pk)
        _upload(owner, lecture, crash_clip)

        # Attempt 1: the pool process (and FFmpeg) dies; Celery requeues the message at once.
        killed_at, progress = _kill_during_run(
            crash_worker, lecture.pk, attempt=1, target=rng.uniform(*KILL_PROGRESS_RANGE),
            whole_group=False,
        )  # fmt: skip
        _wait_for(lambda: _row(lecture.pk).attempts == 2, "attempt 2")
        kills.append(
            {
                "broker": crash_broker.kind,
                "attempt": 1,
                "killed": "pool process + ffmpeg",
                "progress_at_kill_pct": progress,
                "claimed_again_s": round(time.monotonic() - killed_at, 2),
            }
        )
        # Attempt 2: the whole worker dies. RabbitMQ gives the message to the new worker; on
        # Redis the sweep queues the lecture again.
        killed_at, progress = _kill_during_run(
            crash_worker, lecture.pk, attempt=2, target=rng.uniform(*KILL_PROGRESS_RANGE)
        )
        restart = crash_worker.start()
        if not amqp:
            _until_lease_lapsed(killed_at)
            assert _sweep(schema) == {"requeued": [lecture.pk], "failed": []}
        _wait_for(lambda: _row(lecture.pk).attempts == 3, "attempt 3")
        kills.append(
            {
                "broker": crash_broker.kind,
                "attempt": 2,
                "killed": "worker process group",
                "progress_at_kill_pct": progress,
                "worker_back_s": round(restart, 2),
                "claimed_again_s": round(time.monotonic() - killed_at, 2),
            }
        )
        # Attempt 3: the pool process dies again; the redelivery finds no attempt left.
        killed_at, progress = _kill_during_run(
            crash_worker, lecture.pk, attempt=3, target=rng.uniform(*KILL_PROGRESS_RANGE),
            whole_group=False,
        )  # fmt: skip
        _wait_for(lambda: _row(lecture.pk).status == MediaAsset.Status.FAILED, "failed")
        kills.append(
            {
                "broker": crash_broker.kind,
                "attempt": 3,
                "killed": "pool process + ffmpeg",
                "progress_at_kill_pct": progress,
                "kill_to_failed_s": round(time.monotonic() - killed_at, 2),
            }
        )
        # Later sweeps change nothing.
        assert _sweep(schema) == {"requeued": [], "failed": []}
        # On Redis the message stuck by the group kill comes back late: a no-op.
        stuck = stuck_before + (0 if amqp else 1)
        crash_broker.settle(unacked=stuck, what="the last delivery to be acknowledged")
        if not amqp:
            assert _redeliver_unacked(crash_worker.app) == stuck
            crash_broker.settle(unacked=0, what="the redelivered message to be consumed")
        time.sleep(0.5)

    _report(record_property, f"attempts_{crash_broker.kind}", kills)
    with django_db_blocker.unblock(), schema_context(schema):
        row = _row(lecture.pk)
        assert (row.status, row.error, row.attempts) == (
            MediaAsset.Status.FAILED,
            EXHAUSTED,
            3,
        )
        assert (row.version, row.source_key, row.progress) == (0, "", 0.0)
        assert MediaAsset.Status.READY not in seen.statuses(lecture.pk)
        # The delivery that found no attempt left is a no-op, and on Redis so is the late
        # redelivery of the message killed with the whole worker (on RabbitMQ that message was
        # attempt 3); the killed executions stored nothing.
        assert _transcode_outcomes(lecture.pk) == (["false"] if amqp else ["false", "false"])
        assert _files_under(Path(settings.MEDIA_ROOT) / lecture_prefix(schema, lecture.pk)) == []
        _assert_nothing_left_outside_storage(schema, [lecture.pk])
        connections.close_all()


# The django_db mark makes pytest-django set up the test database when this module runs on its
# own (it sets up only the databases of marked tests); this test makes no query itself.
@pytest.mark.django_db
@pytest.mark.parametrize("broker", ["redis", "amqp"])
def test_the_worker_runs_transcodes_with_crash_safe_settings(e2e_env, broker):
    """What a worker process gets: late acknowledgement, requeue on a lost pool process, one
    message reserved at a time, an unacknowledged-task timeout above the longest hard time limit
    (Redis: the visibility timeout; RabbitMQ: every queue's x-consumer-timeout, with publisher
    confirms, 60 s heartbeats and its tasks ended when its connection is lost), and the recovery
    sweep scheduled every minute. Only settings are read: no broker connection is made."""
    url = (
        settings.TEST_REDIS_BROKER_URL
        if broker == "redis"
        else rabbitmq.vhost_url(settings.TEST_RABBITMQ_URL, "settings-only")
    )
    script = (
        "import json, django; django.setup(); from config.celery import app; "
        "from media_pipeline import tasks, transcoding; t = tasks.lecture_transcode; "
        "c = app.conf; "
        "print(json.dumps([t.acks_late, t.reject_on_worker_lost, "
        "c.worker_prefetch_multiplier, c.broker_transport_options, "
        "{q.name: [q.exchange.name, q.exchange.type, q.routing_key, q.durable, "
        "q.queue_arguments] for q in c.task_queues or []}, c.broker_heartbeat, "
        "c.worker_cancel_long_running_tasks_on_connection_loss, "
        "transcoding.transcode_time_limit(6 * 3600), "
        "app.conf.beat_schedule['recover-lost-transcodes']]))"
    )
    result = subprocess.run(
        [str(VENV_BIN / "python"), "-c", script],
        cwd=settings.BASE_DIR,
        env={**e2e_env, "TEST_CELERY_BROKER_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    acks_late, requeue, prefetch, options, queues, heartbeat, cancel, longest, schedule = (
        json.loads(result.stdout)
    )
    assert (acks_late, requeue, prefetch) == (True, True, 1)
    if broker == "redis":
        assert options["visibility_timeout"] == 40 * 3600 > longest
        assert (queues, cancel) == ({}, False)
    else:
        assert options == {"confirm_publish": True}
        assert (heartbeat, cancel) == (60, True)
        timeout_ms = 40 * 3600 * 1000
        assert timeout_ms > longest * 1000
        assert queues == {
            name: [name, "direct", name, True, {"x-consumer-timeout": timeout_ms}]
            for name in ("transcode", "captions", "default")
        }
    assert schedule == {
        "task": "media_pipeline.tasks.lecture_transcodes_recover",
        "schedule": 60,
        "options": {"queue": "default", "expires": 60},
    }


def test_the_heartbeat_renews_only_its_own_lease_while_the_block_runs(
    e2e_school, django_db_blocker, settings
):
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from django_tenants.utils import schema_context

    settings.TRANSCODE_HEARTBEAT_INTERVAL = 0.05
    with django_db_blocker.unblock(), schema_context(e2e_school.schema_name):
        owner = get_user_model().objects.get(email=e2e_school.owner_email)
        mine, other = _new_lecture(owner, "beating"), _new_lecture(owner, "not mine")
        started = timezone.now() - timedelta(seconds=30)
        for lecture, claim in ((mine, "run-mine"), (other, "run-other")):
            MediaAsset.objects.filter(owner_id=lecture.pk).update(
                status=MediaAsset.Status.PROCESSING,
                pending_version=1,
                lease_claim=claim,
                lease_renewed_at=started,
            )

        with recovery.transcode_heartbeat(lecture_id=mine.pk, version=1, claim="run-mine"):
            _wait_for(lambda: _row(mine.pk).lease_renewed_at > started, "a heartbeat", timeout=10)
            first = _row(mine.pk).lease_renewed_at
            _wait_for(lambda: _row(mine.pk).lease_renewed_at > first, "a second heartbeat")
        stopped = _row(mine.pk).lease_renewed_at
        time.sleep(0.3)

        assert _row(mine.pk).lease_renewed_at == stopped  # the thread ended with the block
        assert leases.lease_alive(stopped)
        assert _row(other.pk).lease_renewed_at == started
        # A version that is no longer processing (here: failed) is not renewed either.
        MediaAsset.objects.filter(owner_id=mine.pk).update(status=MediaAsset.Status.FAILED)
        with recovery.transcode_heartbeat(lecture_id=mine.pk, version=1, claim="run-mine"):
            time.sleep(0.3)
        assert _row(mine.pk).lease_renewed_at == stopped
        connections.close_all()

"""``seed_demo``'s long lecture: a LONG_LECTURE_SECONDS narrated clip is uploaded and its
transcode queued for the worker, which will encode it in chunks (the default settings put it
above TRANSCODE_CHUNK_THRESHOLD); a second run changes nothing."""

import io

import pytest
from django.conf import settings
from django.core.management.base import OutputWrapper

from analytics.management.commands.seed_demo import (
    LONG_LECTURE_SECONDS,
    LONG_LECTURE_TITLE,
    _demo_long_lecture,
)
from courses.models import Lecture
from media_pipeline import chunking, chunks
from media_pipeline.models import MediaAsset
from tenants.testing import in_tenant

pytestmark = pytest.mark.django_db


class _Command:
    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.stdout = OutputWrapper(self.buffer)


def test_demo_long_lecture_is_queued_for_a_chunked_transcode_once(
    tenant, course, instructor, django_capture_on_commit_callbacks
):
    command = _Command()
    with in_tenant(tenant):
        with django_capture_on_commit_callbacks() as sent:
            _demo_long_lecture(command, course=course, owner=instructor)
        lecture = Lecture.objects.get(section__course=course, title=LONG_LECTURE_TITLE)
        asset = MediaAsset.objects.get(pk=lecture.video_id)
        with django_capture_on_commit_callbacks() as sent_again:
            _demo_long_lecture(command, course=course, owner=instructor)
        assert Lecture.objects.filter(title=LONG_LECTURE_TITLE).count() == 1
        assert chunks.chunked(asset) is True

    assert (asset.status, asset.pending_version) == ("queued", 1)
    assert asset.source_info["duration"] == pytest.approx(LONG_LECTURE_SECONDS, abs=0.05)
    assert asset.source_info["has_audio"] is True
    assert LONG_LECTURE_SECONDS > settings.TRANSCODE_CHUNK_THRESHOLD
    plan = chunking.chunk_plan(
        duration=asset.source_info["duration"],
        frame_rate=asset.source_info["frame_rate"],
        chunk_seconds=settings.TRANSCODE_CHUNK_SECONDS,
    )
    assert [c.start for c in plan] == [0.0, 60.0, 120.0]
    transcodes = [c for c in sent if getattr(c, "args", None) == () and "kwargs" in
                  getattr(c, "keywords", {})]  # fmt: skip
    assert [c.keywords["kwargs"]["lecture_id"] for c in transcodes] == [str(lecture.pk)]
    assert sent_again == []
    assert command.buffer.getvalue() == (
        f"Queued '{LONG_LECTURE_TITLE}' ({LONG_LECTURE_SECONDS} s) for a chunked transcode.\n"
    )

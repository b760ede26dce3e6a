"""``seed_demo``'s captions step: the sample lecture's narration is transcribed for real by the
captions service (here the session's espeak-ng lecture stands in for the narrated sample), and a
second run changes nothing."""

import io

import pytest
from django.core.management.base import OutputWrapper

from analytics.management.commands.seed_demo import _demo_captions
from media_pipeline.models import CaptionCue, MediaAsset
from tenants.testing import in_tenant
from tests.plugins.media import ready_lecture_write
from tests.plugins.schools import lectures_of

pytestmark = pytest.mark.django_db


class _Command:
    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.stdout = OutputWrapper(self.buffer)


def test_demo_captions_transcribes_the_lecture_once(tenant, course, instructor, speech_media):
    command = _Command()
    with in_tenant(tenant):
        lecture = ready_lecture_write(lecture=lectures_of(tenant, course)[0], media=speech_media)
        _demo_captions(command, lecture=lecture, owner=instructor, video=None)
        first = list(CaptionCue.objects.filter(owner_id=lecture.pk).values_list("id", "text"))
        track = MediaAsset.objects.get(owner_id=lecture.pk, kind="captions")
        _demo_captions(command, lecture=lecture, owner=instructor, video=None)
        second = list(CaptionCue.objects.filter(owner_id=lecture.pk).values_list("id", "text"))
        again = MediaAsset.objects.get(owner_id=lecture.pk, kind="captions")

    assert len(first) == 2 and "photosynthesis" in first[0][1].lower()
    assert second == first
    assert (track.origin, track.status, track.version) == ("automatic", "ready", 1)
    assert again.updated_at == track.updated_at
    assert command.buffer.getvalue() == "Captions of the demo lecture: transcribed, 2 cues.\n"

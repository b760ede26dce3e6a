"""Image moderation with the real NudeNet model, on scikit-image's sample pictures: a label
set that a benign picture triggers (``FACE_FEMALE`` on the astronaut) flags it, the default
labels (exposed nudity) do not, and a picture without a face is never flagged. Covers go
through the hook and the task; lectures through the whole check (poster, frames, audio)."""

import io

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import override_settings
from PIL import Image
from skimage import data

from courses.models import Course
from courses.services import course_update
from tenants.accounts.services import user_profile_update
from tenants.testing import in_tenant, tasks_run_on_commit
from trust import moderation
from trust.models import AudioFingerprint, Flag
from trust.services import flag_decide, lecture_check

FACES = override_settings(MODERATION_IMAGE_LABELS=["FACE_FEMALE"], MODERATION_IMAGE_THRESHOLD=0.6)


def picture(name: str) -> Image.Image:
    return Image.fromarray(getattr(data, name)())


def encoded(name: str, fmt: str = "JPEG") -> bytes:
    out = io.BytesIO()
    picture(name).save(out, fmt)
    return out.getvalue()


def test_scores_of_the_sample_pictures():
    astronaut = moderation.image_score(picture("astronaut"))
    coffee = moderation.image_score(picture("coffee"))
    print("astronaut:", [(d.label, round(d.score, 3)) for d in astronaut])
    print("coffee:", [(d.label, round(d.score, 3)) for d in coffee])
    assert [d.label for d in astronaut] == ["FACE_FEMALE"]
    assert 0.6 <= astronaut[0].score < 0.9
    assert coffee == []
    # Default labels: the exposed-nudity classes; nothing here.
    assert moderation.flagging(astronaut) == []
    with FACES:
        assert moderation.flagging(astronaut) == astronaut
        assert moderation.flagging(coffee) == []
    with override_settings(MODERATION_IMAGE_LABELS=["FACE_FEMALE"], MODERATION_IMAGE_THRESHOLD=0.9):
        assert moderation.flagging(astronaut) == []


@pytest.mark.parametrize(("labels", "name", "flagged"), [
    (None, "astronaut", False), (["FACE_FEMALE"], "astronaut", True),
    (["FACE_FEMALE"], "coffee", False),
])  # fmt: skip
def test_a_new_course_cover_is_scored_after_commit(tenant, course, labels, name, flagged):
    settings = {"MODERATION_IMAGE_LABELS": labels} if labels else {}
    with override_settings(**settings), in_tenant(tenant):
        with tasks_run_on_commit():
            course_update(course=course, data={}, thumbnail=encoded(name))
        key = Course.objects.get(pk=course.pk).thumbnail
    connection.set_schema_to_public()
    flags = list(Flag.objects.filter(school=tenant))
    if not flagged:
        assert flags == []
        return
    [flag] = flags
    assert (flag.kind, flag.subject, flag.object_id, flag.image_key, flag.title, flag.status) == (
        Flag.Kind.IMAGE, Flag.Subject.COURSE_COVER, str(course.pk), key, "Physics",
        Flag.Status.OPEN,
    )  # fmt: skip
    assert [d["label"] for d in flag.detections] == ["FACE_FEMALE"]
    assert Image.open(io.BytesIO(flag.evidence)).size == (480, 480)


@FACES
def test_hiding_a_flagged_avatar_removes_it(tenant, student):
    staff = make_user_public()
    with in_tenant(tenant), tasks_run_on_commit():
        user_profile_update(user=student, avatar=encoded("astronaut", "PNG"))
    with in_tenant(tenant):
        key = type(student).objects.get(pk=student.pk).avatar
    connection.set_schema_to_public()
    flag = Flag.objects.get(school=tenant, subject=Flag.Subject.AVATAR)
    assert (flag.object_id, flag.image_key) == (str(student.pk), key)
    assert flag_decide(flag=flag, action="hide_image", user=staff) is True
    assert (flag.status, flag.action, flag.resolved_by) == (
        Flag.Status.ACTIONED,
        "hide_image",
        staff,
    )
    with in_tenant(tenant):
        assert type(student).objects.get(pk=student.pk).avatar == ""


def make_user_public():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser(email="trust-staff@lectern.test", password="x")


@FACES
def test_a_ready_lecture_gets_its_poster_and_frames_checked(tenant, ready_lecture):
    """The session's 2 s clip (a test card and a tone): the poster and one frame, no face, and
    no fingerprint (2 s of audio is too little for Chromaprint)."""
    with in_tenant(tenant):
        result = lecture_check(lecture_id=ready_lecture.pk, version=1)
        stale = lecture_check(lecture_id=ready_lecture.pk, version=2)
    print("lecture check seconds:", {k: round(v, 3) for k, v in result.seconds.items()})
    assert (result.frames, result.flags, result.matches, stale) == (1, [], [], None)
    assert result.fingerprint is None
    assert not AudioFingerprint.objects.filter(lecture_id=ready_lecture.pk).exists()


def test_the_ready_event_queues_the_lecture_check(tenant, course, ready_lecture_copy):
    from django.test import TestCase

    from tests.plugins.schools import lectures_of

    lecture = lectures_of(tenant, course)[1]
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        ready_lecture_copy(tenant, lecture)
    sends = [
        c
        for c in callbacks
        if getattr(c, "args", None) and c.args[0].name == "trust.tasks.lecture_check"
    ]
    assert [c.keywords for c in sends] == [
        {"schema_name": tenant.schema_name, "lecture_id": str(lecture.pk), "version": 1}
    ]


@FACES
def test_a_poster_with_a_face_is_flagged_and_hiding_the_lecture_takes_it_from_students(
    tenant, ready_lecture
):
    from tenants.storage import lecture_version_prefix

    poster = f"{lecture_version_prefix(tenant.schema_name, ready_lecture.pk, 1)}/hls/poster.jpg"
    default_storage.delete(poster)
    default_storage.save(poster, io.BytesIO(encoded("astronaut")))
    with in_tenant(tenant):
        result = lecture_check(lecture_id=ready_lecture.pk, version=1)
    [flag] = result.flags
    assert (flag.subject, flag.object_id, flag.image_key, flag.media_version) == (
        Flag.Subject.LECTURE_POSTER, str(ready_lecture.pk), poster, 1,
    )  # fmt: skip
    assert flag.title == "Physics / Velocity"
    staff = make_user_public()
    assert flag_decide(flag=flag, action="hide_lecture", user=staff) is True
    with in_tenant(tenant):
        assert type(ready_lecture).objects.get(pk=ready_lecture.pk).hidden_by_platform is True

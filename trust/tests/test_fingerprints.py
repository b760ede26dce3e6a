"""Audio fingerprints (Chromaprint's fpcalc) on audio FFmpeg synthesises here: a re-encoded
clip matches, a different one does not; matches across schools open a flag, inside a school
they are shown on the lecture's edit page. Scores are printed (``-s``)."""

from pathlib import Path

import pytest
from django.db import connection

from courses.services import course_create, lecture_create, lecture_delete, section_create
from tenants.testing import browser, in_tenant, make_user
from tests.plugins.media import run_ffmpeg
from trust import fingerprints
from trust.models import AudioFingerprint, AudioMatch, Flag
from trust.services import fingerprint_store


def melody(path: Path, *, step: int, shift: int, chord: int) -> Path:
    """12 s of a deterministic two-voice melody (notes change 4 and 3 times a second)."""
    expression = (
        f"0.4*sin(2*PI*t*220*pow(2,mod(floor(t*4)*{step}+{shift},24)/12))"
        f"+0.2*sin(2*PI*t*330*pow(2,mod(floor(t*3)*{chord},19)/12))"
    )
    run_ffmpeg("-f", "lavfi", "-i", f"aevalsrc='{expression}':s=44100:d=12", path)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, list[int]]:
    """Fingerprints of clip A, three re-encodings of it and a different clip B."""
    folder = tmp_path_factory.mktemp("fingerprints")
    a = melody(folder / "a.wav", step=7, shift=0, chord=5)
    melody(folder / "b.wav", step=5, shift=3, chord=11)
    run_ffmpeg("-i", a, "-c:a", "aac", "-b:a", "64k", "-ar", "22050", folder / "a-aac.m4a")
    run_ffmpeg("-i", a, "-c:a", "libopus", "-b:a", "24k", folder / "a-opus.ogg")
    # Cut 0.7 s later: the alignment must be found.
    run_ffmpeg(
        "-ss", "0.7", "-i", a, "-c:a", "libmp3lame", "-b:a", "96k", "-ar", "32000",
        folder / "a-late.mp3",
    )  # fmt: skip
    names = ["a.wav", "a-aac.m4a", "a-opus.ogg", "a-late.mp3", "b.wav"]
    return {name: fingerprints.fingerprint_file(folder / name, raw=False) for name in names}


def test_a_re_encoded_clip_matches_and_a_different_clip_does_not(clips):
    original = clips["a.wav"]
    results = {name: fingerprints.compare(original, clips[name]) for name in clips}
    for name, result in results.items():
        print(f"{name}: BER {result.ber:.4f} offset {result.offset} overlap {result.overlap}")
    assert [name for name, result in results.items() if fingerprints.is_match(result)] == [
        "a.wav",
        "a-aac.m4a",
        "a-opus.ogg",
        "a-late.mp3",
    ]
    assert results["a.wav"].ber == 0.0
    assert results["a-late.mp3"].offset == 6  # 0.7 s / 0.124 s per value
    assert results["b.wav"].ber > 0.3


def test_a_steady_tone_is_stored_but_never_searched(tmp_path):
    tone = tmp_path / "tone.wav"
    run_ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=12", tone)
    values = fingerprints.fingerprint_file(tone, raw=False)
    assert (len(values), len(set(values)), fingerprints.searchable(values)) == (75, 1, False)


@pytest.fixture
def lectures(tenant, other_tenant, course):
    """Two lectures of ``course`` in school A and one lecture of school B."""
    from tests.plugins.schools import lectures_of

    first, second = lectures_of(tenant, course)
    owner = make_user(other_tenant, "copycat@beta.test", role="instructor")
    with in_tenant(other_tenant):
        copied = course_create(title="Kinematics", created_by=owner)
        elsewhere = lecture_create(section=section_create(course=copied, title="S"), title="Speed")
    return first, second, elsewhere


def test_same_audio_in_one_school_is_a_notice_and_in_another_school_a_flag(
    clips, tenant, other_tenant, lectures, instructor, course
):
    first, second, elsewhere = lectures
    with in_tenant(tenant):
        stored, matches, flags = fingerprint_store(
            lecture_id=first.pk, version=1, values=clips["a.wav"]
        )
        assert (stored.searchable, matches, flags) == (True, [], [])
        _, matches, flags = fingerprint_store(
            lecture_id=second.pk, version=1, values=clips["a-aac.m4a"]
        )
        assert ([m.other.lecture_id for m in matches], flags) == ([first.pk], [])
    page = browser(tenant, instructor).get(
        f"/dashboard/courses/{course.pk}/lectures/{first.pk}/edit/"
    )
    assert page.status_code == 200
    assert "Same audio as lecture “Acceleration” (course Physics)." in page.content.decode()

    with in_tenant(other_tenant):
        _, matches, flags = fingerprint_store(
            lecture_id=elsewhere.pk, version=2, values=clips["a-late.mp3"]
        )
    assert sorted(str(m.other.lecture_id) for m in matches) == sorted(
        [str(first.pk), str(second.pk)]
    )
    # One flag per pair of lectures, naming both schools and lectures.
    found = list(Flag.objects.filter(subject=Flag.Subject.AUDIO_MATCH).order_by("other_title"))
    assert sorted(f.pk for f in flags) == sorted(f.pk for f in found)
    assert [
        (f.school, f.object_id, f.media_version, f.other_school, f.other_object_id, f.title,
         f.other_title, f.status)
        for f in found
    ] == [
        (other_tenant, str(elsewhere.pk), 2, tenant, str(lecture.pk),
         f"{other_tenant.name}: Kinematics / Speed", f"{tenant.name}: Physics / {lecture.title}",
         Flag.Status.OPEN)
        for lecture in (second, first)
    ]  # fmt: skip
    for f in found:
        print(f"cross-school match {f.other_title}: similarity {f.similarity}")
        assert 0.9 < f.similarity <= 1.0
    # The other school's copy is no notice in school A.
    with in_tenant(tenant):
        from trust.selectors import same_audio_lectures

        assert [lec.pk for lec in same_audio_lectures(lecture_id=first.pk)] == [second.pk]


def test_a_different_clip_matches_nothing_and_deleted_lectures_take_their_fingerprints(
    clips, tenant, lectures
):
    first, second, _ = lectures
    with in_tenant(tenant):
        fingerprint_store(lecture_id=first.pk, version=1, values=clips["a.wav"])
        _, matches, _ = fingerprint_store(lecture_id=second.pk, version=1, values=clips["b.wav"])
        assert matches == []
        lecture_delete(lecture=first)
        # Only this test's lectures: committed tests of the session (real workers) may have
        # left fingerprints of their own lectures in this school.
        assert list(
            AudioFingerprint.objects.filter(
                school=tenant, lecture_id__in=[first.pk, second.pk]
            ).values_list("lecture_id", flat=True)
        ) == [second.pk]
    connection.set_schema_to_public()
    assert not AudioMatch.objects.filter(fingerprint__lecture_id__in=[first.pk, second.pk]).exists()
    assert not AudioMatch.objects.filter(other__lecture_id__in=[first.pk, second.pk]).exists()

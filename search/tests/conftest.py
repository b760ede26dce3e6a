"""A school to search, shared by the search tests: who sees what is asserted on these rows.

Every searchable thing carries a word of its own (``w.words``), so a query finds exactly the
things it names and a test asserts on ids, not on counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.db import connection

from community.hooks import question_saved
from community.models import Question
from courses.models import Course
from courses.services import course_create, course_update, lecture_create, section_create
from engagement.services import note_create
from enrollment.models import Enrollment
from media_pipeline.hooks import captions_changed
from media_pipeline.models import CaptionCue, MediaAsset
from tenants.testing import in_tenant, make_user, tasks_run_on_commit


@dataclass
class World:
    """The accounts and rows of one search school (``tenant``)."""

    tenant: object
    owner: object
    teacher: object  # manages "draft" and "published"
    colleague: object  # another instructor, manages "colleague_draft"
    student: object  # enrolled in "published" and "archived"
    classmate: object  # enrolled in "published"
    courses: dict = field(default_factory=dict)
    lectures: dict = field(default_factory=dict)
    questions: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)


def captions_store(lecture, cues: list[tuple[float, float, str]]):
    """Replace ``lecture``'s caption track with ``cues`` ``(start, end, text)`` as the captions
    code does (a ``captions`` asset, its cues in order) and send ``captions_changed`` on
    commit; run inside ``tasks_run_on_commit`` to index them."""
    asset, _ = MediaAsset.objects.get_or_create(
        owner_id=lecture.id, kind=MediaAsset.Kind.CAPTIONS, defaults={"status": "ready"}
    )
    CaptionCue.objects.filter(asset=asset).delete()
    CaptionCue.objects.bulk_create(
        CaptionCue(asset=asset, owner_id=lecture.id, position=n, start=start, end=end, text=text)
        for n, (start, end, text) in enumerate(cues)
    )
    schema = connection.schema_name
    from django.db import transaction

    transaction.on_commit(
        lambda: captions_changed.send(schema_name=schema, owner_id=lecture.id, asset_id=asset.id)
    )
    return asset


def question_add(*, course, lecture, author, title: str, body: str = "", status="published"):
    """A question as ``community.services`` writes one (its document written by the
    ``question_saved`` hook in the same transaction), in ``status`` without the toxicity
    model."""
    question = Question.objects.create(
        course=course, lecture=lecture, author=author, title=title, body=body, status=status
    )
    question_saved.send(schema_name=connection.schema_name, question_id=question.pk)
    return question


@pytest.fixture
def world(tenant) -> World:
    """School A with: ``published`` (taught by ``teacher``; lectures ``open``, ``hidden``
    (hidden by the platform) and ``spoken`` with a transcript), ``other`` (published, nobody
    enrolled), ``draft`` (teacher's), ``colleague_draft`` (colleague's), ``archived``
    (student enrolled), ``archived_alone`` (nobody enrolled), ``revoked`` (published, the
    student's enrollment revoked). Questions on ``open``: published, pending, hidden; a
    published one on ``hidden``. Notes: the student's and the classmate's on ``open``."""
    w = World(
        tenant=tenant,
        owner=make_user(tenant, "search-owner@alpha.test", role="owner"),
        teacher=make_user(tenant, "search-teacher@alpha.test", role="instructor"),
        colleague=make_user(tenant, "search-colleague@alpha.test", role="instructor"),
        student=make_user(tenant, "search-student@alpha.test"),
        classmate=make_user(tenant, "search-classmate@alpha.test"),
    )
    with in_tenant(tenant), tasks_run_on_commit():
        specs = {
            "published": ("Quillwort botany", w.teacher, "published"),
            "other": ("Marrowfat gardening", w.teacher, "published"),
            "draft": ("Zephyrine draft", w.teacher, "draft"),
            "colleague_draft": ("Wolfsbane draft", w.colleague, "draft"),
            "archived": ("Yarrowby archive", w.teacher, "archived"),
            "archived_alone": ("Xanthic archive", w.teacher, "archived"),
            "revoked": ("Vetchling course", w.teacher, "published"),
        }
        for key, (title, author, status) in specs.items():
            course = course_create(title=title, created_by=author, status=status)
            section = section_create(course=course, title="Part one")
            w.courses[key] = course
            w.lectures[key] = lecture_create(section=section, title=f"{title} lecture")
        section = w.courses["published"].sections.get()
        w.lectures["open"] = w.lectures["published"]
        w.lectures["hidden"] = lecture_create(section=section, title="Ulexite hidden lecture")
        w.lectures["hidden"].hidden_by_platform = True
        w.lectures["hidden"].save()
        w.lectures["spoken"] = lecture_create(section=section, title="Spoken lecture")
        w.lectures["open"].video.duration = 60.0
        w.lectures["open"].video.save()
        for course in ("published", "archived", "revoked"):
            Enrollment.objects.create(student=w.student, course=w.courses[course])
        Enrollment.objects.filter(student=w.student, course=w.courses["revoked"]).update(
            revoked_at="2026-01-01T00:00:00Z"
        )
        Enrollment.objects.create(student=w.classmate, course=w.courses["published"])
        captions_store(
            w.lectures["spoken"],
            [
                (0.0, 4.0, "Welcome to the lecture."),
                (4.0, 8.5, "Today we look at the tamarack tree."),
                (8.5, 12.0, "Its needles fall in autumn."),
                (31.0, 35.0, "A second tamarack grows by the lake."),
            ],
        )
        captions_store(w.lectures["hidden"], [(0.0, 3.0, "Tamarack hidden words.")])
        course, open_ = w.courses["published"], w.lectures["open"]
        for key, status in (
            ("published", "published"),
            ("pending", "pending"),
            ("hidden", "hidden"),
        ):
            w.questions[key] = question_add(
                course=course,
                lecture=open_,
                author=w.classmate,
                title=f"Sassafras {key} question",
                body="Why do leaves turn?",
                status=status,
            )
        w.questions["on_hidden"] = question_add(
            course=course,
            lecture=w.lectures["hidden"],
            author=w.classmate,
            title="Sassafras question on a hidden lecture",
        )
        w.notes["mine"] = note_create(
            student=w.student, lecture_id=open_.id, body="Rhubarb note of mine"
        )
        w.notes["classmate"] = note_create(
            student=w.classmate, lecture_id=open_.id, body="Rhubarb note of my classmate"
        )
    connection.set_schema_to_public()
    return w


def course_status_set(tenant, course: Course, status: str) -> None:
    """Change a course's status through the authoring service."""
    with in_tenant(tenant):
        course_update(course=course, data={"status": status})
    connection.set_schema_to_public()

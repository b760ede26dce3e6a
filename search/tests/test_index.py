"""The index follows what it indexes: the hooks' receivers (in the writes' transactions), the
transcript task, deletes, the school's language, the hourly reconciliation and log pruning."""

import importlib
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from community.hooks import question_saved
from community.models import Question
from courses.hooks import course_saved, lecture_saved
from courses.services import course_delete, course_update, lecture_delete, lecture_update
from media_pipeline.hooks import captions_changed
from media_pipeline.models import CaptionCue, MediaAsset
from search import documents, receivers, selectors, services
from search.models import SearchDocument, SearchLog, SearchTitle, TranscriptPassage
from search.tests.conftest import captions_store
from tenants.testing import in_tenant, tasks_run_on_commit

pytestmark = pytest.mark.django_db


def _titles(world, q: str, user=None) -> list[str]:
    with in_tenant(world.tenant):
        page = selectors.search(user=user or world.owner, q=q)
    return [r["title"] for r in page.results]


def test_the_apps_below_call_searchs_receivers():
    assert receivers.course_saved in course_saved.receivers
    assert receivers.lecture_saved in lecture_saved.receivers
    assert question_saved.receivers == (receivers.question_saved,)
    assert receivers.captions_changed in captions_changed.receivers


def test_edits_are_searchable_in_their_own_transaction(world):
    course, lecture = world.courses["published"], world.lectures["open"]
    with in_tenant(world.tenant):
        with transaction.atomic():
            course_update(course=course, data={"title": "Hawthorn botany"})
            lecture_update(lecture=lecture, data={"description": "All about catkins"})
            # Inside the write's transaction the index has the new text already.
            assert _titles(world, "hawthorn", world.student) == ["Hawthorn botany"]
            transaction.set_rollback(True)
        assert _titles(world, "hawthorn") == []
        course_update(course=course, data={"title": "Hawthorn botany"})
        lecture_update(lecture=lecture, data={"description": "All about catkins"})
        # The course's old title is gone; its lecture keeps its own.
        assert _titles(world, "quillwort", world.student) == ["Quillwort botany lecture"]
        assert _titles(world, "catkins", world.student) == [lecture.title]
        assert SearchTitle.objects.get(lecture=None, course=course).title == "Hawthorn botany"


def test_a_question_edit_is_indexed_and_its_delete_removes_it(world):
    question = world.questions["published"]
    with in_tenant(world.tenant):
        from community.services import question_update

        question.moderator = False
        question_update(question=question, user=world.classmate, changes={"title": "Linden?"})
        assert _titles(world, "linden", world.student) == ["Linden?"]
        Question.objects.filter(pk=question.pk).delete()
        assert not SearchDocument.objects.filter(question_id=question.pk).exists()


def test_deleting_lectures_and_courses_deletes_their_index_rows(world):
    spoken, course = world.lectures["spoken"], world.courses["draft"]
    spoken_id, course_id = spoken.id, course.id
    with in_tenant(world.tenant):
        assert TranscriptPassage.objects.filter(lecture=spoken).count() == 2
        lecture_delete(lecture=spoken)
        assert not TranscriptPassage.objects.filter(lecture_id=spoken_id).exists()
        assert not SearchDocument.objects.filter(lecture_id=spoken_id).exists()
        assert not SearchTitle.objects.filter(lecture_id=spoken_id).exists()
        course_delete(course=course)
        assert not SearchDocument.objects.filter(course_id=course_id).exists()
        assert not SearchTitle.objects.filter(course_id=course_id).exists()
        assert SearchDocument.objects.filter(course=world.courses["other"]).count() == 2


def test_new_cues_replace_the_transcript_and_removed_cues_empty_it(world):
    spoken = world.lectures["spoken"]
    with in_tenant(world.tenant):
        with tasks_run_on_commit():
            asset = captions_store(
                spoken, [(float(n * 10), n * 10 + 9.0, f"Birch cue {n}") for n in range(7)]
            )
        rows = list(
            TranscriptPassage.objects.filter(lecture=spoken)
            .order_by("start")
            .values_list("start", "end", "first_position", "last_position", "asset_id")
        )
        assert rows == [
            (0.0, 29.0, 0, 2, asset.id),
            (30.0, 59.0, 3, 5, asset.id),
            (60.0, 69.0, 6, 6, asset.id),
        ]
        assert _titles(world, "tamarack", world.student) == []
        with tasks_run_on_commit():
            CaptionCue.objects.filter(asset=asset).delete()
            asset.delete()
            transaction.on_commit(
                lambda: captions_changed.send(
                    schema_name=connection.schema_name, owner_id=spoken.id, asset_id=None
                )
            )
        assert not TranscriptPassage.objects.filter(lecture=spoken).exists()


def test_the_schools_language_picks_its_configuration():
    assert documents.config_for("en") == "public.lectern_english"
    assert documents.config_for("pt-BR") == "public.lectern_portuguese"
    assert documents.config_for("nb") == "public.lectern_norwegian"
    assert documents.config_for("zh-Hant") == "public.lectern_simple"
    assert documents.config_for("") == "public.lectern_simple"
    # Every language mapped has its configuration (tenants/migrations/0003).
    languages = importlib.import_module("tenants.migrations.0003_search_extensions_language")
    assert set(documents.LANGUAGE_CONFIGS.values()) == set(languages.LANGUAGES) - {"simple"}


def test_a_new_language_is_reindexed_by_the_reconciliation(world):
    tenant = world.tenant
    with in_tenant(tenant):
        course_update(
            course=world.courses["other"], data={"description": "Les étudiants chantaient"}
        )
        assert services.index_reconcile() == services.ReconcileResult()
        tenant.language = "fr"
        tenant.save(update_fields=["language"])
        assert _titles(world, "chanter") == []  # still English vectors
        result = services.index_reconcile()
        courses = SearchDocument.objects.filter(kind="course").count()
        assert result == services.ReconcileResult(
            courses=courses,
            lectures=SearchDocument.objects.filter(kind="lecture").count(),
            questions=SearchDocument.objects.filter(kind="question").count(),
            transcripts=2,
        )
        assert set(SearchDocument.objects.values_list("config", flat=True)) == {
            "public.lectern_french"
        }
        # French stems and no accents: "étudiant" and "chanter" find "étudiants chantaient".
        assert _titles(world, "etudiant chanter") == ["Marrowfat gardening"]
        assert services.index_reconcile() == services.ReconcileResult()


def test_the_reconciliation_indexes_rows_written_without_the_hooks(world):
    with in_tenant(world.tenant):
        SearchDocument.objects.filter(kind="lecture").delete()
        SearchTitle.objects.all().delete()
        TranscriptPassage.objects.all().delete()
        result = services.index_reconcile()
        assert (result.lectures, result.transcripts) == (9, 2)
        assert SearchTitle.objects.filter(lecture__isnull=False).count() == 9
        assert TranscriptPassage.objects.count() == 3


def test_old_searches_are_pruned(tenant, settings):
    settings.SEARCH_LOG_DAYS = 90
    now = timezone.now()
    with in_tenant(tenant):
        for days in (0, 89, 91, 400):
            services.search_log(query="q", type="", results=0, at=now - timedelta(days=days))
        assert services.search_logs_prune(now=now) == 2
        assert sorted(
            (now - at).days for at in SearchLog.objects.values_list("created_at", flat=True)
        ) == [0, 89]


def test_search_terms_are_the_top_and_the_fruitless_queries_of_the_window(tenant):
    now = timezone.now()
    with in_tenant(tenant):
        for query, results, days in [
            ("Hls", 3, 1),
            ("hls", 5, 0),
            ("hls", 4, 2),
            ("ffmpeg", 0, 3),
            ("ffmpeg", 0, 4),
            ("kubernetes", 0, 5),
            ("ancient", 9, 31),
        ]:
            services.search_log(
                query=query, type="", results=results, at=now - timedelta(days=days)
            )
        terms = selectors.search_terms(now=now)
    assert terms == {
        "days": 30,
        "searches": 6,
        "top": [
            {"query": "hls", "searches": 3, "results": 5},
            {"query": "ffmpeg", "searches": 2, "results": 0},
            {"query": "kubernetes", "searches": 1, "results": 0},
        ],
        "no_results": [
            {"query": "ffmpeg", "searches": 2},
            {"query": "kubernetes", "searches": 1},
        ],
    }


def test_the_transcript_task_is_idempotent_and_skips_an_unknown_lecture(world):
    from search.tasks import transcript_index

    spoken = world.lectures["spoken"]
    with in_tenant(world.tenant):
        before = set(TranscriptPassage.objects.values_list("lecture_id", "start", "end"))
    schema = world.tenant.schema_name
    for _ in range(2):
        assert transcript_index(schema_name=schema, lecture_id=str(spoken.id)) == 2
    unknown = "00000000-0000-0000-0000-000000000000"
    assert transcript_index(schema_name=schema, lecture_id=unknown) == 0
    assert transcript_index(schema_name="no_such_school", lecture_id=str(spoken.id)) is None
    with in_tenant(world.tenant):
        assert set(TranscriptPassage.objects.values_list("lecture_id", "start", "end")) == before
        # This school's own lectures (committed rows of other tests live in the schema too).
        owners = [lecture.id for lecture in world.lectures.values()]
        assert MediaAsset.objects.filter(kind="captions", owner_id__in=owners).count() == 2

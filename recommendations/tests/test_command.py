"""``manage.py recommendations_refresh``: one school or every active one, idempotent."""

import io

import pytest
from django.core.management import CommandError, call_command

from enrollment.models import Enrollment
from recommendations import embeddings
from recommendations.models import CourseEmbedding, CourseNeighbour, CourseScore
from tenants.testing import in_tenant

pytestmark = pytest.mark.django_db


def run(**options) -> str:
    out = io.StringIO()
    call_command("recommendations_refresh", stdout=out, **options)
    return out.getvalue()


def test_the_command_embeds_and_scores_one_school(campus, other_tenant):
    campus.enrol("s1", "python", "data")
    with in_tenant(campus.tenant):
        CourseEmbedding.objects.filter(course=campus.courses["stats"]).delete()
        CourseEmbedding.objects.filter(course=campus.courses["paint"]).update(model_id="old@0")
    output = run(schema=campus.tenant.schema_name)
    assert output == (
        f"{campus.tenant.schema_name}: 2 embedded, 0 unchanged; 5 courses scored, "
        "2 trending, 2 neighbours.\n"
    )
    with in_tenant(campus.tenant):
        assert set(CourseEmbedding.objects.values_list("model_id", flat=True)) == {
            embeddings.model_id()
        }
        assert CourseEmbedding.objects.count() == 5
        assert CourseNeighbour.objects.count() == 2
        assert CourseScore.objects.filter(trending__gt=0).count() == 2
    with in_tenant(other_tenant):
        assert not CourseScore.objects.exists()
    # Nothing changed: nothing embedded again, the same figures.
    assert run(schema=campus.tenant.schema_name) == (
        f"{campus.tenant.schema_name}: 0 embedded, 0 unchanged; 5 courses scored, "
        "2 trending, 2 neighbours.\n"
    )
    with in_tenant(campus.tenant):
        assert Enrollment.objects.count() == 2


def test_an_unknown_school_is_an_error():
    with pytest.raises(CommandError, match="No school with schema 'nowhere'"):
        run(schema="nowhere")
    with pytest.raises(CommandError, match="No school with schema 'public'"):
        run(schema="public")


def test_the_beat_refreshes_every_school_every_ten_minutes(settings):
    assert settings.CELERY_BEAT_SCHEDULE["recommendations-refresh"] == {
        "task": "recommendations.tasks.recommendations_refresh",
        "schedule": 600,
        "options": {"queue": "default", "expires": 600},
    }

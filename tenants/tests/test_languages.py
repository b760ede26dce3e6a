"""The school's language: its validation and the text search configurations it selects."""

import importlib

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django_tenants.utils import tenant_context

from tenants.languages import language_validate

migration = importlib.import_module("tenants.migrations.0003_search_extensions_language")


@pytest.mark.parametrize(("tag", "canonical"), [("en", "en"), ("PT-br", "pt-BR"), ("iw", "he")])
def test_valid_tags_are_standardised(tag, canonical):
    assert language_validate(tag) == canonical


@pytest.mark.parametrize("tag", ["", "en_US", "xx-notatag-zz", "e" * 36, "english"])
def test_invalid_tags_are_refused(tag):
    with pytest.raises(ValidationError, match="BCP 47 language tag"):
        language_validate(tag)


def test_tenant_language_is_checked_by_the_model(tenant):
    tenant.language = "en_US"
    with pytest.raises(ValidationError) as caught:
        tenant.full_clean()
    assert set(caught.value.message_dict) == {"language"}


@pytest.mark.django_db
def test_every_configuration_unaccents_before_its_stemmer():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT cfgname FROM pg_ts_config JOIN pg_namespace n ON n.oid = cfgnamespace "
            "WHERE nspname = 'public' AND cfgname LIKE 'lectern\\_%%'"
        )
        names = {row[0] for row in cursor.fetchall()}
        assert names == {f"lectern_{language}" for language in migration.LANGUAGES}
        cursor.execute(
            "SELECT to_tsvector('public.lectern_english', 'Café résumés running'),"
            " to_tsvector('public.lectern_french', 'Élèves étudiants'),"
            " to_tsvector('public.lectern_simple', 'Naïve Running')"
        )
        english, french, simple = cursor.fetchone()
    assert english == "'cafe':1 'resum':2 'run':3"
    assert french == "'elev':1 'etudi':2"
    assert simple == "'naive':1 'running':2"


@pytest.mark.django_db
def test_trigram_similarity_is_available_in_a_school_schema(tenant):
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("SELECT current_schema(), similarity('postgers', 'postgresql') > 0.2")
        schema, similar = cursor.fetchone()
    assert (schema, similar) == (tenant.schema_name, True)
